/// A small self-checking container for the files Rill persists (checkpoint and savepoint
/// data, channel state):
///
///     magic (4 bytes) | format version (UInt16 LE) | payload length (UInt64 LE) | payload | CRC-32C (UInt32 LE)
///
/// The CRC-32C covers everything before it (header and payload). Frames may be
/// concatenated in one file; ``read(from:magic:versions:)`` reads one at the reader's
/// position.
///
/// Reading checks, in order: the magic (`.malformed`: not this kind of file), that the
/// header and the declared payload and checksum are present (`.truncated`: a partial
/// write), the checksum (`.checksumMismatch`: corruption), and last the version
/// (`.versionMismatch`: written by another release). The version is checked after the
/// checksum so a corrupted version field is reported as corruption.
public enum FramedBlob {
    /// Bytes before the payload: magic, version, length.
    public static var headerSize: Int { 14 }
    /// Bytes after the payload: the checksum.
    public static var trailerSize: Int { 4 }

    /// Identifies what a file holds, as four ASCII bytes (for example `"RCKP"`).
    public struct Magic: Hashable, Sendable, CustomStringConvertible {
        /// The four bytes, first byte in the low 8 bits.
        public let rawValue: UInt32

        /// Creates a magic from exactly four ASCII characters.
        public init(_ ascii: StaticString) {
            precondition(
                ascii.utf8CodeUnitCount == 4 && ascii.isASCII, "a magic is exactly four ASCII bytes")
            var value: UInt32 = 0
            ascii.withUTF8Buffer { buffer in
                for (i, byte) in buffer.enumerated() { value |= UInt32(byte) << (8 * i) }
            }
            rawValue = value
        }

        /// Creates a magic from its raw value.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public var description: String {
            let bytes = (0..<4).map { UInt8(truncatingIfNeeded: rawValue >> (8 * $0)) }
            if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
                return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
            }
            return "0x" + String(rawValue.byteSwapped, radix: 16)
        }
    }

    /// A frame that passed every check.
    public struct Frame: Sendable {
        /// The format version the payload was written with.
        public let version: UInt16
        /// A reader over exactly the payload (sharing the input's bytes).
        public var payload: BinaryReader
    }

    /// Appends a frame to `writer` whose payload is what `body` writes.
    ///
    /// If `body` throws, the writer is restored to its previous length.
    public static func write(
        magic: Magic, version: UInt16, to writer: inout BinaryWriter,
        payload body: (inout BinaryWriter) throws -> Void
    ) rethrows {
        let start = writer.count
        writer.writeFixedWidth(magic.rawValue)
        writer.writeFixedWidth(version)
        writer.writeFixedWidth(UInt64(0))  // length, patched below
        do {
            try body(&writer)
        } catch {
            writer._truncate(to: start)
            throw error
        }
        let length = writer.count - start - headerSize
        writer._overwriteFixedWidth(UInt64(length), at: start + 6)
        let checksum = writer.withUnsafeBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[start...]))
        }
        writer.writeFixedWidth(checksum)
    }

    /// Appends a frame holding `payload` to `writer`.
    public static func write(
        magic: Magic, version: UInt16, payload: UnsafeRawBufferPointer, to writer: inout BinaryWriter
    ) {
        write(magic: magic, version: version, to: &writer) { $0.writeRawBytes(payload) }
    }

    /// A frame holding `payload`, as bytes.
    public static func encode(magic: Magic, version: UInt16, payload: [UInt8]) -> [UInt8] {
        var writer = BinaryWriter(capacity: payload.count + headerSize + trailerSize)
        payload.withUnsafeBytes { write(magic: magic, version: version, payload: $0, to: &writer) }
        return writer.bytes
    }

    /// Reads the frame at the reader's position, checks it, and moves the reader past it.
    ///
    /// - Parameters:
    ///   - magic: the magic the frame must start with.
    ///   - versions: the format versions the caller can read.
    /// - Returns: the frame's version and a reader over its payload.
    /// - Throws: ``CodecError`` — `.malformed`, `.truncated`, `.checksumMismatch` or
    ///   `.versionMismatch`; the reader does not move.
    public static func read(
        from reader: inout BinaryReader, magic: Magic, versions: ClosedRange<UInt16>
    ) throws -> Frame {
        var cursor = reader
        let start = cursor.offset
        guard cursor.remaining >= 4 else {
            throw CodecError(
                .truncated,
                "\(cursor.remaining) byte(s) is too short for a \(magic) frame; the file is "
                    + "empty or was cut off",
                offset: start)
        }
        let foundMagic = Magic(rawValue: try cursor.readFixedWidth(UInt32.self))
        guard foundMagic == magic else {
            throw CodecError(
                .malformed,
                "expected a \(magic) frame but the data starts with \(foundMagic); this is not "
                    + "the kind of file expected, or its start is corrupted",
                offset: start)
        }
        guard cursor.remaining >= headerSize - 4 else {
            throw CodecError(
                .truncated, "the \(magic) frame header is cut off; the file is incomplete",
                offset: start)
        }
        let version = try cursor.readFixedWidth(UInt16.self)
        let length = try cursor.readFixedWidth(UInt64.self)
        guard cursor.remaining >= trailerSize,
            length <= UInt64(cursor.remaining - trailerSize)
        else {
            throw CodecError(
                .truncated,
                "the \(magic) frame declares \(length) payload byte(s) plus a \(trailerSize)-byte "
                    + "checksum but only \(cursor.remaining) byte(s) follow; the file is incomplete "
                    + "(a partial write) — use an earlier checkpoint",
                offset: start)
        }
        let payloadStart = cursor.offset
        let payloadCount = Int(length)
        let computed = cursor._bytes.withUnsafeBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<(payloadStart + payloadCount)]))
        }
        try cursor._skip(payloadCount)
        let stored = try cursor.readFixedWidth(UInt32.self)
        guard stored == computed else {
            throw CodecError(
                .checksumMismatch,
                "the \(magic) frame's checksum is 0x\(String(stored, radix: 16)) but its bytes hash "
                    + "to 0x\(String(computed, radix: 16)); the data is corrupted — use an earlier "
                    + "checkpoint",
                offset: start)
        }
        guard versions.contains(version) else {
            throw CodecError(
                .versionMismatch,
                "found \(magic) format version \(version) but this build reads versions "
                    + "\(versions.lowerBound)...\(versions.upperBound); restore it with a release "
                    + "that reads version \(version)",
                offset: start + 4)
        }
        let payload = BinaryReader(cursor._bytes, range: payloadStart..<(payloadStart + payloadCount))
        reader = cursor
        return Frame(version: version, payload: payload)
    }

    /// Reads a frame that must span all of `bytes` (trailing bytes are `.malformed`).
    public static func read(
        _ bytes: [UInt8], magic: Magic, versions: ClosedRange<UInt16>
    ) throws -> Frame {
        var reader = BinaryReader(bytes)
        let frame = try read(from: &reader, magic: magic, versions: versions)
        try reader.expectEnd()
        return frame
    }
}
