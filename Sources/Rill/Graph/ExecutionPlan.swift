/// The job graph: the logical graph validated, with parallelism resolved, edges partitioned,
/// operators fused into chains, and channels laid out between subtasks.
struct ExecutionPlan {
    struct Chain {
        let index: Int
        /// Node ids, head first, each after its chained predecessor.
        let nodes: [Int]
        let parallelism: Int
        let name: String
    }

    /// A channel into a chain head's gate: which edge and which upstream subtask feed it.
    struct ChannelSource {
        let edge: Int
        let upstreamSubtask: Int
    }

    let graph: StreamGraph
    let chains: [Chain]
    let chainOfNode: [Int]
    let parallelism: [Int]
    let maxParallelism: [Int]
    let partitioner: [PartitionerKind]
    let isChained: [Bool]
    /// `channels[chain][subtask]`: the gate's channels in order.
    let channels: [[[ChannelSource]]]

    /// For a non-chained edge, the downstream subtasks that upstream subtask `upstream` sends to,
    /// in downstream-subtask order.
    func targets(edge: Int, upstream: Int) -> [Int] {
        let e = graph.edges[edge]
        return Self.targets(kind: partitioner[edge], upstream: upstream,
                            upstreamParallelism: parallelism[e.source.node], downstreamParallelism: parallelism[e.target])
    }

    static func targets(kind: PartitionerKind, upstream: Int, upstreamParallelism: Int, downstreamParallelism: Int) -> [Int] {
        // GLOBAL is all-to-all, as in Flink: every downstream subtask gets a channel (and so end
        // of input), though only subtask 0 gets records.
        switch kind {
        case .forward, .rescale:
            if upstreamParallelism == downstreamParallelism { return [upstream] }
            if upstreamParallelism > downstreamParallelism {
                return [upstream * downstreamParallelism / upstreamParallelism]
            }
            return (0..<downstreamParallelism).filter { $0 * upstreamParallelism / downstreamParallelism == upstream }
        default:
            return Array(0..<downstreamParallelism)
        }
    }

    init(graph: StreamGraph, configuration config: StreamEnvironment.Configuration) throws {
        self.graph = graph
        let nodes = graph.nodes
        let edges = graph.edges
        guard !nodes.isEmpty else {
            throw RillError(.invalidJobGraph, "the job has no operators; add a source and a sink before calling execute()")
        }
        try config.validate()
        for node in nodes { try node.checkArguments() }

        // Parallelism.
        var parallelism: [Int] = []
        var maxParallelism: [Int] = []
        var uids: [String: String] = [:]
        for node in nodes {
            let p = node.isNonParallel ? 1 : (node.parallelism ?? config.parallelism)
            let maxP = node.maxParallelism ?? config.maxParallelism
            guard p >= 1 else {
                throw RillError(.invalidConfiguration, "operator '\(node.name)' has parallelism \(p); use a parallelism of at least 1")
            }
            guard (1...32768).contains(maxP) else {
                throw RillError(.invalidConfiguration, "operator '\(node.name)' has max parallelism \(maxP); use a value in 1...32768")
            }
            if node.isKeyed || maxP < p {
                guard maxP >= p else {
                    throw RillError(.invalidConfiguration,
                                    "operator '\(node.name)' has parallelism \(p) above its max parallelism \(maxP); raise the max parallelism (the number of key groups) to at least \(p)")
                }
            }
            if let uid = node.uid {
                if let other = uids[uid] {
                    throw RillError(.invalidJobGraph,
                                    "uid '\(uid)' is used by both '\(other)' and '\(node.name)'; uids identify operator state in savepoints and must be unique")
                }
                uids[uid] = node.name
            }
            parallelism.append(p)
            maxParallelism.append(maxP)
        }

        // Inputs and cycles.
        var incoming = Array(repeating: [Int](), count: nodes.count)
        var outgoing = Array(repeating: [Int](), count: nodes.count)
        for (index, edge) in edges.enumerated() {
            incoming[edge.target].append(index)
            outgoing[edge.source.node].append(index)
        }
        for node in nodes {
            switch node.kind {
            case .source:
                guard incoming[node.id].isEmpty else {
                    throw RillError(.invalidJobGraph, "source '\(node.name)' cannot have inputs")
                }
            case .oneInput, .sink:
                guard !incoming[node.id].isEmpty else {
                    throw RillError(.invalidJobGraph, "operator '\(node.name)' has no input")
                }
            case .twoInput:
                let inputs = Set(incoming[node.id].map { edges[$0].inputIndex })
                guard inputs == [0, 1] else {
                    throw RillError(.invalidJobGraph, "two-input operator '\(node.name)' needs both inputs connected")
                }
            }
        }
        try Self.checkAcyclic(nodes: nodes, edges: edges, outgoing: outgoing)

        // Partitioners.
        var partitioner: [PartitionerKind] = []
        for edge in edges {
            let up = parallelism[edge.source.node]
            let down = parallelism[edge.target]
            let kind = edge.partitioner ?? (up == down ? .forward : .rebalance)
            if kind == .forward && up != down {
                throw RillError(.invalidJobGraph,
                                "forward partitioning does not allow a change of parallelism: '\(nodes[edge.source.node].name)' has \(up), '\(nodes[edge.target].name)' has \(down); use rebalance(), rescale() or broadcast(), or make the parallelisms equal")
            }
            partitioner.append(kind)
        }

        // Chaining.
        var isChained: [Bool] = []
        for (index, edge) in edges.enumerated() {
            let source = nodes[edge.source.node]
            let target = nodes[edge.target]
            let chainable = config.chainingEnabled
                && partitioner[index] == .forward
                && incoming[target.id].count == 1
                && (target.kind == .oneInput || target.kind == .sink)
                && source.chainingAllowed && target.chainingAllowed
                && parallelism[source.id] == parallelism[target.id]
            isChained.append(chainable)
        }
        var chainOfNode = Array(repeating: -1, count: nodes.count)
        var chains: [Chain] = []
        for node in nodes where !incoming[node.id].contains(where: { isChained[$0] }) {
            var members = [node.id]
            var cursor = 0
            while cursor < members.count {
                for edgeIndex in outgoing[members[cursor]] where isChained[edgeIndex] {
                    let target = edges[edgeIndex].target
                    if !members.contains(target) { members.append(target) }
                }
                cursor += 1
            }
            for member in members { chainOfNode[member] = chains.count }
            chains.append(Chain(index: chains.count, nodes: members, parallelism: parallelism[node.id],
                                name: members.map { nodes[$0].name }.joined(separator: " -> ")))
        }

        // Channels: every non-chained edge ends at a chain head.
        var channels = chains.map { Array(repeating: [ChannelSource](), count: $0.parallelism) }
        for (index, edge) in edges.enumerated() where !isChained[index] {
            let chain = chainOfNode[edge.target]
            for upstream in 0..<parallelism[edge.source.node] {
                for downstream in Self.targets(kind: partitioner[index], upstream: upstream,
                                               upstreamParallelism: parallelism[edge.source.node],
                                               downstreamParallelism: parallelism[edge.target]) {
                    channels[chain][downstream].append(ChannelSource(edge: index, upstreamSubtask: upstream))
                }
            }
        }

        self.chains = chains
        self.chainOfNode = chainOfNode
        self.parallelism = parallelism
        self.maxParallelism = maxParallelism
        self.partitioner = partitioner
        self.isChained = isChained
        self.channels = channels
    }

    private static func checkAcyclic(nodes: [StreamNode], edges: [StreamEdge], outgoing: [[Int]]) throws {
        var state = Array(repeating: 0, count: nodes.count) // 0 new, 1 on stack, 2 done
        func visit(_ node: Int, _ path: [Int]) throws {
            if state[node] == 2 { return }
            if state[node] == 1 {
                let cycle = (path.drop { $0 != node } + [node]).map { nodes[$0].name }
                throw RillError(.invalidJobGraph, "the job graph has a cycle: \(cycle.joined(separator: " -> ")); streams must flow one way")
            }
            state[node] = 1
            for edge in outgoing[node] { try visit(edges[edge].target, path + [node]) }
            state[node] = 2
        }
        for node in nodes { try visit(node.id, []) }
    }

    /// A human-readable description of chains, parallelism and edges.
    var description: String {
        var lines: [String] = []
        for chain in chains {
            lines.append("task \(chain.index) [\(chain.name)] parallelism \(chain.parallelism)")
        }
        for (index, edge) in graph.edges.enumerated() where !isChained[index] {
            lines.append("  \(graph.nodes[edge.source.node].name) --\(partitioner[index])--> \(graph.nodes[edge.target].name)")
        }
        return lines.joined(separator: "\n")
    }
}
