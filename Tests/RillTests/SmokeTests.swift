import XCTest
@testable import Rill
final class SmokeTests: XCTestCase { func testNothing() {} }
