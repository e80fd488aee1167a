#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private final class ThreadBody: @unchecked Sendable {
    // Handed to exactly one new thread.
    let name: String
    let body: @Sendable () -> Void
    init(name: String, _ body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Starts a detached OS thread. Tasks are threads, not Swift tasks: they block on channels and
/// run user code for as long as a job lives, which the cooperative pool must never do.
/// `name` (cut to Linux's 15 bytes) shows in `top -H`, debuggers and `/proc/<pid>/task/*/comm`,
/// so an operator can tell Rill's threads from the service's own.
func startThread(name: String, stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> Void) {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    pthread_attr_setstacksize(&attributes, stackSize)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let box = Unmanaged.passRetained(ThreadBody(name: name, body)).toOpaque()
    #if canImport(Darwin)
    var thread: pthread_t?
    #else
    var thread = pthread_t()
    #endif
    let result = pthread_create(&thread, &attributes, { raw in
        #if canImport(Darwin)
        let box = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
        #else
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        #endif
        nameCurrentThread(box.name)
        box.body()
        return nil
    }, box)
    pthread_attr_destroy(&attributes)
    precondition(result == 0, "pthread_create failed with \(result)")
}

/// Names the calling thread through `/proc/thread-self/comm` (what `pthread_setname_np` does
/// on Linux, which Swift's Glibc module does not export); best effort elsewhere.
private func nameCurrentThread(_ name: String) {
    #if canImport(Glibc) || canImport(Musl)
    let descriptor = open("/proc/thread-self/comm", O_WRONLY)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    #endif
}
