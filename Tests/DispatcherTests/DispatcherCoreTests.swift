import Testing

@testable import Dispatcher
