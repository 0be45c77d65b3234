//! Hand-written (not generated): the SDK for Swift concurrency. Every
//! blocking call of `Gridsync` as an `async` function run on a background
//! queue; `sync` whose Task, when cancelled, stops the sync; `AsyncSequence`s
//! (AsyncThrowingStream) of the lists a screen shows and of the sync state,
//! each yielding again when a local edit or a sync changes what it shows.
//!
//! The same design as GridsyncAsync.kt (Android): one `ChangeListener` is
//! set on the `Gridsync` object and fans out to every stream, so an app
//! using this class must not call `setChangeListener` itself.
//! Not compiled on the Linux CI machine (no Swift toolchain there): build
//! the package on a Mac (see ../../../README.md, "iOS, step by step").

import Foundation

/// One event of `GridsyncAsync.syncing()`: progress, then the report.
public enum SyncEvent: Sendable, Equatable {
    /// Progress (see `SyncProgress.fraction`).
    case progress(SyncProgress)
    /// The sync finished; the last event.
    case done(SyncReport)
}

/// Where this device stands, for a sync indicator (`GridsyncAsync.syncState()`).
/// `status` is read whenever no sync of this object runs (after every edit
/// and sync); while one runs it is the status from before it, `running` is
/// true and `progress` the sync's latest progress (nil before its first).
public struct SyncState: Sendable, Equatable {
    public let status: SyncStatus
    public let running: Bool
    public let progress: SyncProgress?
}

/// A set of callbacks under a lock, called outside it.
final class Observers<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var callbacks: [UUID: (Value) -> Void] = [:]

    func add(_ callback: @escaping (Value) -> Void) -> UUID {
        let id = UUID()
        lock.lock()
        callbacks[id] = callback
        lock.unlock()
        return id
    }

    func remove(_ id: UUID) {
        lock.lock()
        callbacks[id] = nil
        lock.unlock()
    }

    func send(_ value: Value) {
        lock.lock()
        let all = Array(callbacks.values)
        lock.unlock()
        for callback in all { callback(value) }
    }
}

/// The one listener set on the `Gridsync` object: fans changes out.
final class ChangeHub: ChangeListener, @unchecked Sendable {
    let observers = Observers<ChangeSet>()

    func onChange(change: ChangeSet) {
        observers.send(change)
    }
}

/// This object's running sync, if any; `ended` counts finished syncs.
struct SyncRun: Sendable {
    var running = false
    var progress: SyncProgress? = nil
    var ended = 0
}

final class SyncRuns: @unchecked Sendable {
    private let lock = NSLock()
    private var run = SyncRun()
    let observers = Observers<SyncRun>()

    var now: SyncRun {
        lock.lock()
        defer { lock.unlock() }
        return run
    }

    func update(_ change: (inout SyncRun) -> Void) {
        lock.lock()
        change(&run)
        let value = run
        lock.unlock()
        observers.send(value)
    }
}

/// A flag set once, from any thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return raised
    }

    func raise() {
        lock.lock()
        raised = true
        lock.unlock()
    }
}

/// A continuation resumed once: by the sync's end or by a cancellation,
/// whichever comes first.
final class Once<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?
    private var early: Result<T, Error>?
    private var done = false

    func set(_ continuation: CheckedContinuation<T, Error>) {
        lock.lock()
        if let early {
            done = true
            lock.unlock()
            continuation.resume(with: early)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    func resume(_ result: Result<T, Error>) {
        lock.lock()
        if done {
            lock.unlock()
            return
        }
        guard let continuation else {
            early = result
            lock.unlock()
            return
        }
        done = true
        self.continuation = nil
        lock.unlock()
        continuation.resume(with: result)
    }
}

/// One sync of this object at a time: cancelling one never stops another.
actor SyncGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}

/// Runs `work` on a serial queue whenever poked, once more if poked while
/// running, and yields its answer when it differs from the last one.
final class Pump<T: Equatable & Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var scheduled = false
    private var dirty = false
    private var stopped = false
    private var last: T?
    private let queue = DispatchQueue(label: "cn.gridsync.observe", qos: .userInitiated)
    private let work: () throws -> T
    private let continuation: AsyncThrowingStream<T, Error>.Continuation

    init(_ continuation: AsyncThrowingStream<T, Error>.Continuation, work: @escaping () throws -> T) {
        self.continuation = continuation
        self.work = work
    }

    func poke() {
        lock.lock()
        if stopped {
            lock.unlock()
            return
        }
        dirty = true
        if scheduled {
            lock.unlock()
            return
        }
        scheduled = true
        lock.unlock()
        queue.async { self.drain() }
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }

    private func drain() {
        while true {
            lock.lock()
            if !dirty || stopped {
                scheduled = false
                lock.unlock()
                return
            }
            dirty = false
            lock.unlock()
            do {
                let value = try work()
                if value != last {
                    last = value
                    continuation.yield(value)
                }
            } catch {
                stop()
                continuation.finish(throwing: error)
                return
            }
        }
    }
}

/// The last status a sync-state stream read; used only on its pump's queue.
final class StatusBox: @unchecked Sendable {
    var status: SyncStatus?
}

/// Passes a sync's progress on; applies a cancellation that came before
/// the sync was running at its first progress event, at the latest.
final class ProgressRelay: SyncListener, @unchecked Sendable {
    private let sdk: Gridsync
    private let cancelled: Flag
    private let runs: SyncRuns
    private let forward: (@Sendable (SyncProgress) -> Void)?

    init(sdk: Gridsync, cancelled: Flag, runs: SyncRuns, forward: (@Sendable (SyncProgress) -> Void)?) {
        self.sdk = sdk
        self.cancelled = cancelled
        self.runs = runs
        self.forward = forward
    }

    func onProgress(progress: SyncProgress) {
        if cancelled.isSet {
            sdk.cancelSync()
            return
        }
        runs.update { $0.progress = progress }
        forward?(progress)
    }
}

/// `Gridsync` for Swift concurrency. Create one per `Gridsync` and keep it
/// as long:
///
///     let gridsync = try await GridsyncAsync.open(path: path, key: key, serverUrl: url)
///
/// Every function of `Gridsync` is here as an `async` function of the same
/// name and labels, run on a background queue. `sync` stops when its Task
/// is cancelled. The `observe…` functions return `AsyncThrowingStream`s:
/// each `for try await` loop gets the current list at once, then the list
/// again after every local edit or sync that changes it.
public final class GridsyncAsync: @unchecked Sendable {
    /// The blocking object underneath, for anything not wrapped here.
    public let sdk: Gridsync
    private let queue: DispatchQueue
    private let hub = ChangeHub()
    private let runs = SyncRuns()
    private let gate = SyncGate()

    public init(_ sdk: Gridsync, queue: DispatchQueue = .global(qos: .userInitiated)) {
        self.sdk = sdk
        self.queue = queue
        sdk.setChangeListener(listener: hub)
    }

    /// `Gridsync.open` off the calling thread (it reads and may migrate the store file).
    public static func open(path: String, key: String, serverUrl: String?) async throws -> GridsyncAsync {
        let sdk: Gridsync = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try Gridsync.open(path: path, key: key, serverUrl: serverUrl) })
            }
        }
        return GridsyncAsync(sdk)
    }

    /// Stop listening to the device's changes (the streams yield no more).
    public func detach() {
        sdk.setChangeListener(listener: nil)
    }

    /// Every change the device is told of (local edits, syncs, sign-in and out).
    public func changes() -> AsyncStream<ChangeSet> {
        AsyncStream { continuation in
            let hub = self.hub
            let id = hub.observers.add { continuation.yield($0) }
            continuation.onTermination = { _ in hub.observers.remove(id) }
        }
    }

    private func run<T: Sendable>(_ call: @escaping @Sendable (Gridsync) throws -> T) async throws -> T {
        let sdk = self.sdk
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try call(sdk) }) }
        }
    }

    /// After a sign-in, sign-out or hand-over every list may differ.
    private func everythingChanged() {
        hub.onChange(change: ChangeSet(docs: [], removed: [], households: true, grids: true, reports: true, fromSync: false))
    }

    // MARK: sync

    /// Push this device's changes and pull everyone else's (see
    /// `Gridsync.sync`); `onProgress` is called on the syncing thread.
    ///
    /// Cancelling the Task stops the sync: this throws `CancellationError`
    /// at once, and the sync stops at its next step (nothing is lost; the
    /// next sync carries on). Syncs started here run one after another.
    public func sync(onProgress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> SyncReport {
        await gate.acquire()
        // From here the gate is released by the queue running the sync,
        // when the blocking call has returned: only then may the next begin.
        let sdk = self.sdk
        let runs = self.runs
        let gate = self.gate
        let cancelled = Flag()
        let once = Once<SyncReport>()
        let relay = ProgressRelay(sdk: sdk, cancelled: cancelled, runs: runs, forward: onProgress)
        queue.async {
            let result: Result<SyncReport, Error>
            if cancelled.isSet {
                result = .failure(CancellationError())
            } else {
                runs.update { $0.running = true; $0.progress = nil }
                result = Result { try sdk.sync(listener: relay) }
                runs.update { $0.running = false; $0.progress = nil; $0.ended += 1 }
            }
            Task { await gate.release() }
            once.resume(result)
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { once.set($0) }
        } onCancel: {
            cancelled.raise()
            sdk.cancelSync()
            once.resume(.failure(CancellationError()))
        }
    }

    /// A sync as a stream: its progress, then `.done` with the report.
    /// Ending the loop (or cancelling its Task) stops the sync.
    public func syncing() -> AsyncThrowingStream<SyncEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let report = try await self.sync { continuation.yield(.progress($0)) }
                    continuation.yield(.done(report))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Stop a running sync (see `Gridsync.cancelSync`); returns at once.
    public func cancelSync() {
        sdk.cancelSync()
    }

    /// The sync state now, then after every edit, sync start, progress
    /// event and sync end of this object.
    public func syncState() -> AsyncThrowingStream<SyncState, Error> {
        AsyncThrowingStream { continuation in
            let sdk = self.sdk
            let runs = self.runs
            let hub = self.hub
            let last = StatusBox()
            let pump = Pump(continuation) { () throws -> SyncState in
                let run = runs.now
                let status: SyncStatus
                if let known = last.status, run.running {
                    status = known
                } else {
                    status = try sdk.status()
                }
                last.status = status
                return SyncState(status: status, running: run.running, progress: run.progress)
            }
            let change = hub.observers.add { _ in pump.poke() }
            let run = runs.observers.add { _ in pump.poke() }
            continuation.onTermination = { _ in
                hub.observers.remove(change)
                runs.observers.remove(run)
                pump.stop()
            }
            pump.poke()
        }
    }

    // MARK: observed lists

    /// `query`'s answer now, then again whenever a change `touches` (and,
    /// with `afterSync`, after every sync of this object), if it differs.
    public func observe<T: Equatable & Sendable>(
        touches: @escaping @Sendable (ChangeSet) -> Bool,
        afterSync: Bool = false,
        query: @escaping @Sendable (Gridsync) throws -> T
    ) -> AsyncThrowingStream<T, Error> {
        AsyncThrowingStream { continuation in
            let sdk = self.sdk
            let runs = self.runs
            let hub = self.hub
            let pump = Pump(continuation) { try query(sdk) }
            // Subscribed before the first query, so no change falls between.
            let change = hub.observers.add { if touches($0) { pump.poke() } }
            var run: UUID? = nil
            if afterSync {
                var ended = runs.now.ended
                let lock = NSLock()
                run = runs.observers.add { now in
                    lock.lock()
                    let changed = now.ended != ended
                    ended = now.ended
                    lock.unlock()
                    if changed { pump.poke() }
                }
            }
            let runId = run
            continuation.onTermination = { _ in
                hub.observers.remove(change)
                if let runId { runs.observers.remove(runId) }
                pump.stop()
            }
            pump.poke()
        }
    }

    /// Households at a place (`households(filter:)`), kept current.
    public func observeHouseholds(filter: PlaceFilter) -> AsyncThrowingStream<[HouseholdRow], Error> {
        observe(touches: { $0.households }) { try $0.households(filter: filter) }
    }

    /// Households not contacted within `days` days, kept current.
    public func observeHouseholdsNotVisited(days: Int32) -> AsyncThrowingStream<[HouseholdRow], Error> {
        observe(touches: { $0.households }) { try $0.householdsNotVisited(days: days) }
    }

    /// Households their package-holder has not contacted within `days` days, kept current.
    public func observeHouseholdsNotContacted(days: Int32, holder: String?) -> AsyncThrowingStream<[HouseholdRow], Error> {
        observe(touches: { $0.households }) { try $0.householdsNotContacted(days: days, holder: holder) }
    }

    /// Residents with an attention tag, kept current.
    public func observeResidentsWithTag(tag: String) -> AsyncThrowingStream<[ResidentRow], Error> {
        observe(touches: { $0.households }) { try $0.residentsWithTag(tag: tag) }
    }

    /// One household, kept current (throws `NotFound` once it is removed).
    public func observeHousehold(id: String) -> AsyncThrowingStream<Household, Error> {
        observe(touches: { $0.docs.contains(id) || $0.removed.contains(id) }) { try $0.household(id: id) }
    }

    /// The grids with their places (pickers), kept current.
    public func observeGrids() -> AsyncThrowingStream<[Grid], Error> {
        observe(touches: { $0.grids }) { try $0.grids() }
    }

    /// Open reports the signed-in user reported or is to handle, kept current: new steps arrive here.
    public func observeMyReports() -> AsyncThrowingStream<[ReportRow], Error> {
        observe(touches: { $0.reports }) { try $0.myReports() }
    }

    /// Open reports of `grid` (or all), kept current.
    public func observeOpenReports(grid: String?) -> AsyncThrowingStream<[ReportRow], Error> {
        observe(touches: { $0.reports }) { try $0.openReports(grid: grid) }
    }

    /// Reports past their deadline, kept current (re-read after each sync too).
    public func observeOverdueReports(grid: String?) -> AsyncThrowingStream<[ReportRow], Error> {
        observe(touches: { $0.reports }, afterSync: true) { try $0.overdueReports(grid: grid) }
    }

    /// One report with its steps, kept current (throws `NotFound` once it is removed).
    public func observeReport(id: String) -> AsyncThrowingStream<Report, Error> {
        observe(touches: { $0.docs.contains(id) || $0.removed.contains(id) }) { try $0.report(id: id) }
    }

    /// Changes the server refused, kept current (re-read after each sync).
    public func observeRejectedChanges() -> AsyncThrowingStream<[RejectedChange], Error> {
        observe(touches: { _ in true }, afterSync: true) { try $0.rejectedChanges() }
    }

    /// Suspected duplicates, kept current.
    public func observeDuplicateSuspects() -> AsyncThrowingStream<[DuplicateSuspect], Error> {
        observe(touches: { $0.households }) { try $0.duplicateSuspects() }
    }

    // MARK: every other call, async

    public func deviceId() async throws -> String { try await run { $0.deviceId() } }
    public func setServerUrl(url: String) { sdk.setServerUrl(url: url) }

    public func login(username: String, password: String) async throws -> User {
        let user = try await run { try $0.login(username: username, password: password) }
        everythingChanged()
        return user
    }

    public func logout() async throws {
        try await run { try $0.logout() }
        everythingChanged()
    }

    /// See `Gridsync.handOver`; not cancellable once started.
    public func handOver() async throws -> SyncReport {
        let report = try await run { try $0.handOver() }
        everythingChanged()
        return report
    }

    public func currentUser() async throws -> User? { try await run { try $0.currentUser() } }
    public func grids() async throws -> [Grid] { try await run { try $0.grids() } }
    public func addPlace(grid: String, area: String, compound: String, building: String, unit: String) async throws {
        try await run { try $0.addPlace(grid: grid, area: area, compound: compound, building: building, unit: unit) }
    }

    public func createHousehold(household: NewHousehold) async throws -> String {
        try await run { try $0.createHousehold(household: household) }
    }

    public func household(id: String) async throws -> Household { try await run { try $0.household(id: id) } }
    public func updateHousehold(id: String, fields: HouseholdFields) async throws {
        try await run { try $0.updateHousehold(id: id, fields: fields) }
    }

    public func moveHousehold(id: String, grid: String) async throws {
        try await run { try $0.moveHousehold(id: id, grid: grid) }
    }

    public func addResident(householdId: String, resident: Resident) async throws -> String {
        try await run { try $0.addResident(householdId: householdId, resident: resident) }
    }

    public func updateResident(householdId: String, residentId: String, resident: Resident) async throws {
        try await run { try $0.updateResident(householdId: householdId, residentId: residentId, resident: resident) }
    }

    public func removeResident(householdId: String, residentId: String, movedOut: String?) async throws {
        try await run { try $0.removeResident(householdId: householdId, residentId: residentId, movedOut: movedOut) }
    }

    public func restoreResident(householdId: String, residentId: String) async throws {
        try await run { try $0.restoreResident(householdId: householdId, residentId: residentId) }
    }

    public func addVisit(householdId: String, visit: Visit) async throws -> String {
        try await run { try $0.addVisit(householdId: householdId, visit: visit) }
    }

    public func households(filter: PlaceFilter) async throws -> [HouseholdRow] {
        try await run { try $0.households(filter: filter) }
    }

    public func householdsNotVisited(days: Int32) async throws -> [HouseholdRow] {
        try await run { try $0.householdsNotVisited(days: days) }
    }

    public func householdsNotContacted(days: Int32, holder: String?) async throws -> [HouseholdRow] {
        try await run { try $0.householdsNotContacted(days: days, holder: holder) }
    }

    public func residentsWithTag(tag: String) async throws -> [ResidentRow] {
        try await run { try $0.residentsWithTag(tag: tag) }
    }

    public func searchResidents(query: String) async throws -> [ResidentRow] {
        try await run { try $0.searchResidents(query: query) }
    }

    public func status() async throws -> SyncStatus { try await run { try $0.status() } }
    public func rejectedChanges() async throws -> [RejectedChange] { try await run { try $0.rejectedChanges() } }
    public func discardRejected(docId: String) async throws -> Int64 { try await run { try $0.discardRejected(docId: docId) } }
    public func conflicts(docId: String) async throws -> [Conflict] { try await run { try $0.conflicts(docId: docId) } }
    public func resolveConflict(docId: String, path: [String], choice: Int32) async throws {
        try await run { try $0.resolveConflict(docId: docId, path: path, choice: choice) }
    }

    public func duplicateSuspects() async throws -> [DuplicateSuspect] { try await run { try $0.duplicateSuspects() } }
    public func mergeHouseholds(a: String, b: String) async throws -> String {
        try await run { try $0.mergeHouseholds(a: a, b: b) }
    }

    public func mergeResidents(householdId: String, a: String, b: String) async throws -> String {
        try await run { try $0.mergeResidents(householdId: householdId, a: a, b: b) }
    }

    public func dismissDuplicate(a: String, b: String) async throws { try await run { try $0.dismissDuplicate(a: a, b: b) } }
    public func history(docId: String) async throws -> [HistoryEntry] { try await run { try $0.history(docId: docId) } }

    public func issueCatalogue() async throws -> [IssueCategory] { try await run { $0.issueCatalogue() } }
    public func reportIssue(report: NewReport) async throws -> String { try await run { try $0.reportIssue(report: report) } }
    public func attachPhoto(reportId: String, path: String) async throws -> String {
        try await run { try $0.attachPhoto(reportId: reportId, path: path) }
    }

    public func report(id: String) async throws -> Report { try await run { try $0.report(id: id) } }
    public func openReports(grid: String?) async throws -> [ReportRow] { try await run { try $0.openReports(grid: grid) } }
    public func myReports() async throws -> [ReportRow] { try await run { try $0.myReports() } }
    public func overdueReports(grid: String?) async throws -> [ReportRow] { try await run { try $0.overdueReports(grid: grid) } }
    public func reportsNearlyDue(grid: String?, hours: Int32) async throws -> [ReportRow] {
        try await run { try $0.reportsNearlyDue(grid: grid, hours: hours) }
    }

    public func takeStep(reportId: String, step: Step) async throws -> String {
        try await run { try $0.takeStep(reportId: reportId, step: step) }
    }

    public func photo(hash: String) async throws -> Data { try await run { try $0.photo(hash: hash) } }
    public func thumbnail(hash: String) async throws -> Data { try await run { try $0.thumbnail(hash: hash) } }

    public func buildingRoster() async throws -> BuildingRoster? { try await run { try $0.buildingRoster() } }
    public func logContact(contact: NewContact) async throws -> String { try await run { try $0.logContact(contact: contact) } }
    public func contacts() async throws -> [ContactRow] { try await run { try $0.contacts() } }
}
