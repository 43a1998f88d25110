@testable import Dispatcher

/// Helpers shared by the dispatcher tests.
func at(_ seconds: Double) -> Moment { Moment(nanoseconds: Int64(seconds * 1e9)) }

func req(_ sub: String = "sub", conn: String = "c", limit: Int? = nil) -> JobRequest {
    JobRequest(connectionID: conn, subscriptionID: sub, filtersJSON: "[{\"kinds\":[1]}]", limit: limit)
}

func makeCore(picker: CandidatePicker = .heap, _ tweak: (inout DispatcherConfig) -> Void = { _ in }) throws
    -> DispatcherCore
{
    var config = DispatcherConfig()
    config.gatewayIsCandidate = false
    tweak(&config)
    return try DispatcherCore(config: config, picker: picker, now: at(0))
}

extension Array where Element == DispatchEffect {
    var starts: [Assignment] {
        compactMap {
            if case .start(let a) = $0 { return a }
            return nil
        }
    }
    var finishes: [(JobID, JobResolution)] {
        compactMap {
            if case .finished(let j, _, let r, _) = $0 { return (j, r) }
            return nil
        }
    }
    var stops: [(JobID, DispatchTarget, ReassignReason)] {
        compactMap {
            if case .stop(let j, _, let t, let r) = $0 { return (j, t, r) }
            return nil
        }
    }
}

extension Placement {
    var assignment: Assignment? {
        if case .started(let a) = self { return a }
        return nil
    }
    var jobID: JobID {
        switch self {
        case .started(let a): return a.job
        case .queued(let j, _): return j
        }
    }
}
