//! Hand-written (not generated): the SDK for coroutines. Every blocking
//! call of [Gridsync] as a `suspend` function run on a background
//! dispatcher; `sync` whose coroutine, when cancelled, stops the sync;
//! `Flow`s of the lists a screen shows and of the sync state, each
//! emitting again when a local edit or a sync changes what it shows.
//!
//! Built on the generated bindings only: one `ChangeListener` is set on
//! the `Gridsync` object and fans out to every flow, so an app using this
//! class must not call `setChangeListener` itself (collect [changes]).

package cn.gridsync.sdk

import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicReference
import kotlin.coroutines.EmptyCoroutineContext
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.withContext

/** One event of [GridsyncAsync.syncing]: progress, then the report. */
sealed interface SyncEvent {
    /** Progress (see `SyncProgress.fraction`). */
    data class Progress(val progress: SyncProgress) : SyncEvent

    /** The sync finished; the last event. */
    data class Done(val report: SyncReport) : SyncEvent
}

/**
 * Where this device stands, for a sync indicator ([GridsyncAsync.syncState]).
 * `status` is read whenever no sync of this object runs (after every edit
 * and sync); while one runs it is the status from before it, `running` is
 * true and `progress` the sync's latest progress (null before its first).
 */
data class SyncState(
    val status: SyncStatus,
    val running: Boolean,
    val progress: SyncProgress?,
)

/**
 * [Gridsync] for coroutines. Create one per `Gridsync` and keep it as long
 * (e.g. in the Application):
 *
 *     val gridsync = GridsyncAsync(Gridsync.open(path, key, serverUrl))
 *
 * Every function of `Gridsync` is here as a `suspend` function of the same
 * name and arguments, run on [dispatcher] (a thread pool: the calls block
 * on disk and network), so it may be called from the main thread. Errors
 * are the same `GridsyncException`s.
 *
 * `observe…` functions return cold `Flow`s: each collector gets the
 * current list at once, then the list again after every local edit or sync
 * that changes it (an equal list is not emitted twice).
 */
class GridsyncAsync(
    /** The blocking object underneath, for anything not wrapped here. */
    val sdk: Gridsync,
    /** Where the blocking calls run; a thread pool (not `Unconfined`). */
    private val dispatcher: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {

    private val changeSets = MutableSharedFlow<ChangeSet>(
        extraBufferCapacity = 256,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    /**
     * Every change the device was told of (local edits, syncs, sign-in and
     * out), as the `ChangeListener` would get it; hot, not replayed.
     */
    val changes: SharedFlow<ChangeSet> = changeSets.asSharedFlow()

    /** This object's running sync, if any; `ended` counts finished syncs. */
    private data class SyncRun(val running: Boolean, val progress: SyncProgress?, val ended: Long)

    private val syncRun = MutableStateFlow(SyncRun(running = false, progress = null, ended = 0))

    /** One sync of this object at a time: cancelling one never stops another. */
    private val syncLock = Mutex()

    init {
        sdk.setChangeListener(object : ChangeListener {
            override fun onChange(change: ChangeSet) {
                changeSets.tryEmit(change)
            }
        })
    }

    /** Stop listening to the device's changes and close the `Gridsync` object. */
    override fun close() {
        sdk.setChangeListener(null)
        sdk.close()
    }

    private suspend inline fun <T> io(crossinline call: Gridsync.() -> T): T =
        withContext(dispatcher) { sdk.call() }

    /** After a sign-in, sign-out or hand-over every list may differ. */
    private fun everythingChanged() {
        changeSets.tryEmit(
            ChangeSet(docs = emptyList(), removed = emptyList(), households = true, grids = true,
                reports = true, fromSync = false),
        )
    }

    // ---- sync ---------------------------------------------------------------

    /**
     * Push this device's changes and pull everyone else's (see
     * `Gridsync.sync`); `onProgress` is called on the syncing thread.
     *
     * Cancelling the calling coroutine stops the sync: it returns at once
     * with `CancellationException`, and the sync stops at its next step
     * (nothing is lost; the next sync carries on). Syncs started here run
     * one after another: a second one waits for the first. If `onProgress`
     * throws, the sync is stopped and its exception is thrown here.
     */
    suspend fun sync(onProgress: ((SyncProgress) -> Unit)? = null): SyncReport {
        syncLock.lock()
        // From here the lock is released by the thread running the sync,
        // when the blocking call has returned: only then may the next begin.
        val cancelled = AtomicBoolean(false)
        val thrown = AtomicReference<Throwable?>(null)
        val listener = object : SyncListener {
            override fun onProgress(progress: SyncProgress) {
                // A cancellation that came before the sync was running
                // (waiting for the store) is applied here, at the latest.
                if (cancelled.get()) {
                    sdk.cancelSync()
                    return
                }
                syncRun.update { it.copy(progress = progress) }
                if (onProgress != null) {
                    try {
                        onProgress(progress)
                    } catch (t: Throwable) {
                        thrown.compareAndSet(null, t)
                        sdk.cancelSync()
                    }
                }
            }
        }
        return suspendCancellableCoroutine { cont ->
            cont.invokeOnCancellation {
                cancelled.set(true)
                sdk.cancelSync()
            }
            val run = Runnable {
                val result: Result<SyncReport> = try {
                    if (cancelled.get()) {
                        Result.failure(CancellationException("sync cancelled before it started"))
                    } else {
                        syncRun.update { it.copy(running = true, progress = null) }
                        try {
                            val r = runCatching { sdk.sync(listener) }
                            thrown.get()?.let { Result.failure(it) } ?: r
                        } finally {
                            syncRun.update { SyncRun(running = false, progress = null, ended = it.ended + 1) }
                        }
                    }
                } finally {
                    syncLock.unlock()
                }
                // Ignored when the coroutine was cancelled (it has resumed).
                cont.resumeWith(result)
            }
            try {
                dispatcher.dispatch(EmptyCoroutineContext, run)
            } catch (t: Throwable) {
                syncLock.unlock()
                throw t
            }
        }
    }

    /**
     * A sync as a flow: its progress events, then [SyncEvent.Done] with
     * the report. Cancelling the collector stops the sync.
     */
    fun syncing(): Flow<SyncEvent> = channelFlow {
        val report = sync { p -> trySend(SyncEvent.Progress(p)) }
        send(SyncEvent.Done(report))
    }.buffer(Channel.UNLIMITED)

    /** Stop a running sync (see `Gridsync.cancelSync`); returns at once. */
    fun cancelSync() = sdk.cancelSync()

    /**
     * The sync state now, then after every edit, sync start, progress
     * event and sync end of this object.
     */
    fun syncState(): Flow<SyncState> = channelFlow {
        val dirty = Channel<Unit>(Channel.CONFLATED)
        launch(start = CoroutineStart.UNDISPATCHED) { changeSets.collect { dirty.trySend(Unit) } }
        launch(start = CoroutineStart.UNDISPATCHED) { syncRun.collect { dirty.trySend(Unit) } }
        var last: SyncStatus? = null
        for (tick in dirty) {
            val run = syncRun.value
            val known = last
            val now = if (known == null || !run.running) io { status() } else known
            last = now
            send(SyncState(now, run.running, run.progress))
        }
    }.distinctUntilChanged()

    // ---- observed lists -------------------------------------------------------

    /**
     * `query`'s answer now, then again whenever a change `touches` (and,
     * with `afterSync`, after every sync of this object), if it differs.
     */
    fun <T> observe(
        touches: (ChangeSet) -> Boolean,
        afterSync: Boolean = false,
        query: Gridsync.() -> T,
    ): Flow<T> = channelFlow {
        val dirty = Channel<Unit>(Channel.CONFLATED)
        // Subscribed before the first query, so no change falls between.
        launch(start = CoroutineStart.UNDISPATCHED) {
            changeSets.collect { if (touches(it)) dirty.trySend(Unit) }
        }
        if (afterSync) {
            launch(start = CoroutineStart.UNDISPATCHED) {
                var seen = syncRun.value.ended
                syncRun.collect {
                    if (it.ended != seen) {
                        seen = it.ended
                        dirty.trySend(Unit)
                    }
                }
            }
        }
        dirty.trySend(Unit)
        for (tick in dirty) send(io(query))
    }.distinctUntilChanged()

    /** Households at a place (`households(filter)`), kept current. */
    fun observeHouseholds(filter: PlaceFilter): Flow<List<HouseholdRow>> =
        observe({ it.households }) { households(filter) }

    /** Households not contacted within `days` days, kept current. */
    fun observeHouseholdsNotVisited(days: Int): Flow<List<HouseholdRow>> =
        observe({ it.households }) { householdsNotVisited(days) }

    /** Households their package-holder has not contacted within `days` days, kept current. */
    fun observeHouseholdsNotContacted(days: Int, holder: String?): Flow<List<HouseholdRow>> =
        observe({ it.households }) { householdsNotContacted(days, holder) }

    /** Residents with an attention tag, kept current. */
    fun observeResidentsWithTag(tag: String): Flow<List<ResidentRow>> =
        observe({ it.households }) { residentsWithTag(tag) }

    /** One household, kept current (fails with `NotFound` once it is removed). */
    fun observeHousehold(id: String): Flow<Household> =
        observe({ id in it.docs || id in it.removed }) { household(id) }

    /** The grids with their places (pickers), kept current. */
    fun observeGrids(): Flow<List<Grid>> = observe({ it.grids }) { grids() }

    /** Open reports the signed-in user reported or is to handle, kept current: new steps arrive here. */
    fun observeMyReports(): Flow<List<ReportRow>> = observe({ it.reports }) { myReports() }

    /** Open reports of `grid` (or all), kept current. */
    fun observeOpenReports(grid: String?): Flow<List<ReportRow>> =
        observe({ it.reports }) { openReports(grid) }

    /** Reports past their deadline, kept current (re-read after each sync too). */
    fun observeOverdueReports(grid: String?): Flow<List<ReportRow>> =
        observe({ it.reports }, afterSync = true) { overdueReports(grid) }

    /** One report with its steps, kept current (fails with `NotFound` once it is removed). */
    fun observeReport(id: String): Flow<Report> =
        observe({ id in it.docs || id in it.removed }) { report(id) }

    /** Changes the server refused, kept current (re-read after each sync). */
    fun observeRejectedChanges(): Flow<List<RejectedChange>> =
        observe({ true }, afterSync = true) { rejectedChanges() }

    /** Suspected duplicates, kept current. */
    fun observeDuplicateSuspects(): Flow<List<DuplicateSuspect>> =
        observe({ it.households }) { duplicateSuspects() }

    // ---- every other call, suspending ---------------------------------------

    suspend fun deviceId(): String = io { deviceId() }
    fun setServerUrl(url: String) = sdk.setServerUrl(url)

    suspend fun login(username: String, password: String): User =
        io { login(username, password) }.also { everythingChanged() }

    suspend fun logout() = io { logout() }.also { everythingChanged() }

    /** See `Gridsync.handOver`; not cancellable once started. */
    suspend fun handOver(): SyncReport = io { handOver() }.also { everythingChanged() }

    suspend fun currentUser(): User? = io { currentUser() }
    suspend fun grids(): List<Grid> = io { grids() }
    suspend fun addPlace(grid: String, area: String, compound: String, building: String, unit: String) =
        io { addPlace(grid, area, compound, building, unit) }

    suspend fun createHousehold(household: NewHousehold): String = io { createHousehold(household) }
    suspend fun household(id: String): Household = io { household(id) }
    suspend fun updateHousehold(id: String, fields: HouseholdFields) = io { updateHousehold(id, fields) }
    suspend fun moveHousehold(id: String, grid: String) = io { moveHousehold(id, grid) }
    suspend fun addResident(householdId: String, resident: Resident): String = io { addResident(householdId, resident) }
    suspend fun updateResident(householdId: String, residentId: String, resident: Resident) =
        io { updateResident(householdId, residentId, resident) }

    suspend fun removeResident(householdId: String, residentId: String, movedOut: String?) =
        io { removeResident(householdId, residentId, movedOut) }

    suspend fun restoreResident(householdId: String, residentId: String) = io { restoreResident(householdId, residentId) }
    suspend fun addVisit(householdId: String, visit: Visit): String = io { addVisit(householdId, visit) }

    suspend fun households(filter: PlaceFilter): List<HouseholdRow> = io { households(filter) }
    suspend fun householdsNotVisited(days: Int): List<HouseholdRow> = io { householdsNotVisited(days) }
    suspend fun householdsNotContacted(days: Int, holder: String?): List<HouseholdRow> =
        io { householdsNotContacted(days, holder) }

    suspend fun residentsWithTag(tag: String): List<ResidentRow> = io { residentsWithTag(tag) }
    suspend fun searchResidents(query: String): List<ResidentRow> = io { searchResidents(query) }

    suspend fun status(): SyncStatus = io { status() }
    suspend fun rejectedChanges(): List<RejectedChange> = io { rejectedChanges() }
    suspend fun discardRejected(docId: String): Long = io { discardRejected(docId) }
    suspend fun conflicts(docId: String): List<Conflict> = io { conflicts(docId) }
    suspend fun resolveConflict(docId: String, path: List<String>, choice: Int) = io { resolveConflict(docId, path, choice) }
    suspend fun duplicateSuspects(): List<DuplicateSuspect> = io { duplicateSuspects() }
    suspend fun mergeHouseholds(a: String, b: String): String = io { mergeHouseholds(a, b) }
    suspend fun mergeResidents(householdId: String, a: String, b: String): String = io { mergeResidents(householdId, a, b) }
    suspend fun dismissDuplicate(a: String, b: String) = io { dismissDuplicate(a, b) }
    suspend fun history(docId: String): List<HistoryEntry> = io { history(docId) }

    suspend fun issueCatalogue(): List<IssueCategory> = io { issueCatalogue() }
    suspend fun reportIssue(report: NewReport): String = io { reportIssue(report) }
    suspend fun attachPhoto(reportId: String, path: String): String = io { attachPhoto(reportId, path) }
    suspend fun report(id: String): Report = io { report(id) }
    suspend fun openReports(grid: String?): List<ReportRow> = io { openReports(grid) }
    suspend fun myReports(): List<ReportRow> = io { myReports() }
    suspend fun overdueReports(grid: String?): List<ReportRow> = io { overdueReports(grid) }
    suspend fun reportsNearlyDue(grid: String?, hours: Int): List<ReportRow> = io { reportsNearlyDue(grid, hours) }
    suspend fun takeStep(reportId: String, step: Step): String = io { takeStep(reportId, step) }
    suspend fun photo(hash: String): ByteArray = io { photo(hash) }
    suspend fun thumbnail(hash: String): ByteArray = io { thumbnail(hash) }

    suspend fun buildingRoster(): BuildingRoster? = io { buildingRoster() }
    suspend fun logContact(contact: NewContact): String = io { logContact(contact) }
    suspend fun contacts(): List<ContactRow> = io { contacts() }

    companion object {
        /** `Gridsync.open` on `dispatcher` (it reads and may migrate the store file). */
        suspend fun open(
            path: String,
            key: String,
            serverUrl: String?,
            dispatcher: CoroutineDispatcher = Dispatchers.IO,
        ): GridsyncAsync = GridsyncAsync(withContext(dispatcher) { Gridsync.open(path, key, serverUrl) }, dispatcher)
    }
}
