//! The coroutine layer of the SDK (GridsyncAsync) against the real server:
//! suspend calls that leave the caller's thread free, a sync stopped by
//! cancelling its coroutine, Flows of lists and of the sync state that
//! emit again after local edits and syncs, and the README's quick-start
//! (extracted by ../scripts/test-kotlin.sh, compiled with this suite).

import cn.gridsync.sdk.*
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull

/** Households in the big server's grid: a sync of them takes many round trips. */
const val BIG_HOUSEHOLDS = 600

/** The next value of `ch` that satisfies `ok`, within `ms`; names `what` when none came. */
suspend fun <T> Channel<T>.awaitValue(what: String, ms: Long = 20_000, ok: (T) -> Boolean): T {
    var last: T? = null
    return try {
        withTimeout(ms) {
            var v: T
            do {
                v = receive()
                last = v
            } while (!ok(v))
            v
        }
    } catch (e: TimeoutCancellationException) {
        throw AssertionError("no emission $what within $ms ms; last: $last")
    }
}

fun asyncTests(s: Suite, tests: MutableMap<String, () -> Unit>) {
    val serverBin = System.getProperty("gridsync.server") ?: error("-Dgridsync.server is required")
    // A second server with a grid big enough that a sync takes a while;
    // started by the first test that needs it, stopped when the run ends.
    val big by lazy {
        Server(serverBin, households = BIG_HOUSEHOLDS).also { srv ->
            Runtime.getRuntime().addShutdownHook(Thread { srv.close() })
        }
    }
    fun bigPhone(): GridsyncAsync {
        val g = Gridsync.open(s.path(), KEY, big.url)
        g.login(USER, PASSWORD)
        return GridsyncAsync(g)
    }

    tests["async: suspend calls leave the calling thread free (a sync from a one-thread 'main' dispatcher)"] = {
        val a = bigPhone()
        val main = Executors.newSingleThreadExecutor { r -> Thread(r, "fake-main") }
        try {
            val ticks = AtomicInteger()
            val progressThreads = java.util.Collections.synchronizedSet(mutableSetOf<String>())
            val states = java.util.Collections.synchronizedList(mutableListOf<SyncState>())
            val report = runBlocking(main.asCoroutineDispatcher()) {
                // The UI's work: runs only while the main thread is free.
                val ticker = launch {
                    while (isActive) {
                        ticks.incrementAndGet()
                        delay(5)
                    }
                }
                // A sync indicator, collected on the main thread too.
                val first = CompletableDeferred<Unit>()
                val indicator = launch {
                    a.syncState().collect {
                        states.add(it)
                        first.complete(Unit)
                    }
                }
                first.await()
                val r = a.sync { progressThreads.add(Thread.currentThread().name) }
                delay(200)
                ticker.cancel()
                indicator.cancel()
                r
            }
            check(states.any { it.running && it.progress != null }) { "the sync-state flow showed the sync running with progress: ${states.map { it.running to it.progress?.fraction }}" }
            check(!states.last().running && states.last().status.lastSuccess != null) { "then finished: ${states.last()}" }
            check(report.docsReceived >= BIG_HOUSEHOLDS) { "the grid arrived: $report" }
            check(ticks.get() >= 5) { "the main thread ran other work during the sync: ${ticks.get()} ticks" }
            check(progressThreads.isNotEmpty() && "fake-main" !in progressThreads) { "the sync ran off the main thread: $progressThreads" }
            // Every other call too: a household read, from the 'main' dispatcher.
            val (id, onMain) = runBlocking(main.asCoroutineDispatcher()) {
                val id = a.households(PlaceFilter(grid = GRID)).first().id
                id to Thread.currentThread().name
            }
            check(onMain == "fake-main" && runBlocking { a.household(id) }.id == id) { "suspend read works" }
        } finally {
            main.shutdownNow()
            a.close()
        }
    }

    tests["async: cancelling the coroutine running a sync stops the sync; a later sync completes"] = {
        val a = bigPhone()
        try {
            runBlocking {
                val firstProgress = CompletableDeferred<SyncProgress>()
                val job = launch(Dispatchers.Default) { a.sync { p -> firstProgress.complete(p) } }
                val first = withTimeout(30_000) { firstProgress.await() }
                check(first.docsTotal >= BIG_HOUSEHOLDS) { "the sync is under way: $first" }
                val t0 = System.nanoTime()
                job.cancel()
                job.join()
                val ms = (System.nanoTime() - t0) / 1_000_000
                check(job.isCancelled) { "the coroutine ended cancelled" }
                check(ms < 1_000) { "the coroutine ended promptly: $ms ms" }
                // The sync itself stops at its next step: Cancelled, with part
                // of the grid received. The store is not held across a
                // request, so status() answers at once, possibly before
                // that step: wait (bounded) for the outcome.
                var st = a.status()
                val until = System.nanoTime() + 15_000_000_000L
                while (st.lastError == null && System.nanoTime() < until) {
                    delay(20)
                    st = a.status()
                }
                check(st.lastError?.kind == ErrorKind.CANCELLED) { "the sync was stopped by the cancellation: $st" }
                val got = a.households(PlaceFilter(grid = GRID)).size
                check(got < BIG_HOUSEHOLDS) { "the sync stopped before the end: $got households received" }
                // Nothing lost: the next sync carries on to the end.
                val report = a.sync()
                check(report.complete) { "the later sync completes: $report" }
                check(a.households(PlaceFilter(grid = GRID)).size >= BIG_HOUSEHOLDS) { "everything received" }
                check(a.status().lastError == null) { "no error after the later sync" }
                // The flow form: progress, then Done; never backwards.
                val events = a.syncing().toList()
                check(events.last() is SyncEvent.Done) { "the flow ends with the report: ${events.last()}" }
                val fractions = events.filterIsInstance<SyncEvent.Progress>().map { it.progress.fraction }
                check(fractions.isNotEmpty() && fractions.zipWithNext().all { (x, y) -> y >= x }) { "progress in the flow: $fractions" }
            }
        } finally {
            a.close()
        }
    }

    tests["async: a Flow of a place's households emits after local edits and after a sync bringing another phone's change"] = {
        val a = GridsyncAsync(s.phone())
        val b = s.phone()
        try {
            runBlocking {
                val place = s.firstPlace(a.sdk, "2101")
                val filter = PlaceFilter(grid = GRID, building = place.building, unit = place.unit)
                val seen = Channel<List<HouseholdRow>>(Channel.UNLIMITED)
                val screen = launch(Dispatchers.Default) { a.observeHouseholds(filter).collect { seen.send(it) } }
                val first = seen.awaitValue("at first") { true }
                // A local new household.
                val id = a.createHousehold(NewHousehold(grid = GRID, place = place))
                seen.awaitValue("after createHousehold") { rows -> rows.any { it.id == id } && rows.size == first.size + 1 }
                // A local visit.
                a.addVisit(id, Visit(at = System.currentTimeMillis() - 1000, method = "in_person", findings = "入户走访"))
                seen.awaitValue("after addVisit") { rows -> rows.any { it.id == id && it.lastVisit != null } }
                // An edit elsewhere (a report) does not touch this list.
                a.reportIssue(NewReport(grid = GRID, category = "sanitation", subtype = "garbage",
                    description = "楼道堆放杂物", source = "patrol"))
                val extra = withTimeoutOrNull(500) { seen.receive() }
                check(extra == null) { "a report does not re-emit the households: $extra" }
                a.sync()
                // Another phone records a household at the same place; A's sync brings it.
                val other = b.createHousehold(NewHousehold(grid = GRID, place = place.copy(room = "2102")))
                check(b.sync(null).complete) { "phone B pushed" }
                val report = a.sync()
                check(report.docsReceived >= 1) { "A received B's household: $report" }
                seen.awaitValue("after a sync bringing phone B's household") { rows -> rows.any { it.id == other } }
                screen.cancel()
            }
        } finally {
            a.close()
            b.close()
        }
    }

    tests["async: 'my reports' Flow emits when a report's new step arrives by sync"] = {
        val worker = GridsyncAsync(s.phone())
        val sup = Gridsync.open(s.path(), KEY, s.server.url)
        try {
            sup.login("shequ", PASSWORD)
            runBlocking {
                val seen = Channel<List<ReportRow>>(Channel.UNLIMITED)
                val screen = launch(Dispatchers.Default) { worker.observeMyReports().collect { seen.send(it) } }
                seen.awaitValue("at first") { true }
                val id = worker.reportIssue(NewReport(grid = GRID, category = "sanitation", subtype = "garbage",
                    description = "5号楼门前垃圾堆放", source = "patrol"))
                seen.awaitValue("after reportIssue") { rows -> rows.any { it.id == id && it.stage == ReportStage.REPORTED } }
                check(worker.sync().complete) { "the report is on the server" }
                // The supervisor accepts it on their phone.
                sup.sync(null)
                sup.takeStep(id, Step(kind = StepKind.ACCEPT, note = "已受理"))
                check(sup.sync(null).complete) { "the step is on the server" }
                worker.sync()
                val rows = seen.awaitValue("after the supervisor's step arrived") { rows ->
                    rows.any { it.id == id && it.stage == ReportStage.ACCEPTED }
                }
                check(rows.first { it.id == id }.stageName == "待派遣") { "stage name: $rows" }
                // The report itself, observed: its steps.
                val report = withTimeout(10_000) { worker.observeReport(id).first() }
                check(report.steps.any { it.kind == "accept" }) { "the step is in the report: ${report.steps}" }
                screen.cancel()
            }
        } finally {
            worker.close()
            sup.close()
        }
    }

    tests["async: the sync-state Flow emits after an edit, a sync, and a failed sync"] = {
        val a = GridsyncAsync(s.phone())
        try {
            runBlocking {
                val seen = Channel<SyncState>(Channel.UNLIMITED)
                val watcher = launch(Dispatchers.Default) { a.syncState().collect { seen.send(it) } }
                val first = seen.awaitValue("at first") { !it.running }
                check(first.status.pendingChanges == 0L && first.status.lastSuccess != null) { "synced at first: $first" }
                val h = a.households(PlaceFilter(grid = GRID)).first().id
                a.addVisit(h, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "电话回访"))
                seen.awaitValue("after an edit") { it.status.pendingChanges >= 1L }
                val before = first.status.lastSuccess ?: 0L
                a.sync()
                seen.awaitValue("after a sync") { !it.running && it.status.pendingChanges == 0L && (it.status.lastSuccess ?: 0L) > before }
                // A sync that fails changes no document: the state still shows it.
                a.setServerUrl("http://127.0.0.1:9")
                expectThrows<GridsyncException.Network> { runBlocking { a.sync() } }
                seen.awaitValue("after a failed sync") { it.status.lastError?.kind == ErrorKind.NETWORK }
                a.setServerUrl(s.server.url)
                watcher.cancel()
            }
        } finally {
            a.close()
        }
    }

    tests["async: the README quick-start compiles and runs against the server"] = {
        val path = s.path()
        val household = runBlocking {
            withTimeout(120_000) { quickStart(path, KEY, s.server.url, USER, PASSWORD) }
        }
        check(household.residents.size == 1 && household.visits.size == 1) { "the quick-start's household: $household" }
        val g = Gridsync.open(path, KEY, s.server.url)
        try {
            val st = g.status()
            check(st.pendingChanges == 0L && st.lastSuccess != null && st.lastError == null) { "the quick-start synced everything: $st" }
            check(g.household(household.id).visits.single().visit.method == "in_person") { "its visit is stored" }
        } finally {
            g.close()
        }
    }
}
