// Issue 19, items 1 and 3: the phone SDK is never blocked by the network
// (reads and visit saves during a sync over a slow link return at once, a
// visit saved meanwhile reaches the server), and listeners are safe (one
// that calls back into the SDK does not hang, one that throws is caught and
// reported as a GridsyncException). Against the real server, through a
// throttling proxy so the sync is slow.
//
// Errors added by the issue (Busy, Listener) are recognised by class name,
// so this file also compiles against the bindings of before, to be seen
// failing there.

import cn.gridsync.sdk.*
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference

/**
 * A TCP proxy to the server that throttles both ways (`down` and `up`
 * bytes a second, each connection): a slow mobile link, so a sync through
 * it takes seconds.
 */
class ThrottledProxy(target: String, private val down: Int, private val up: Int) : AutoCloseable {
    private val listener = java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())
    val url = "http://127.0.0.1:${listener.localPort}"

    init {
        val (host, port) = target.removePrefix("http://").split(":").let { it[0] to it[1].toInt() }
        Thread {
            while (!listener.isClosed) {
                val client = try { listener.accept() } catch (e: java.io.IOException) { break }
                val upstream = java.net.Socket(host, port)
                pump(client, upstream, up)
                pump(upstream, client, down)
            }
        }.apply { isDaemon = true }.start()
    }

    private fun pump(from: java.net.Socket, to: java.net.Socket, rate: Int) {
        Thread {
            val buf = ByteArray(4096)
            try {
                while (true) {
                    val n = from.getInputStream().read(buf)
                    if (n < 0) break
                    Thread.sleep(n * 1000L / rate)
                    to.getOutputStream().write(buf, 0, n)
                }
            } catch (e: Exception) {
            } finally {
                runCatching { to.shutdownOutput() }
            }
        }.apply { isDaemon = true }.start()
    }

    override fun close() = listener.close()
}

/** A sync running on its own thread, telling when its first progress report came. */
class BackgroundSync(g: Gridsync, onProgress: (SyncProgress) -> Unit = {}) {
    val firstEvent = CountDownLatch(1)
    val done = CountDownLatch(1)
    val result = AtomicReference<Result<SyncReport>>()
    val thread = Thread {
        val listener = object : SyncListener {
            override fun onProgress(progress: SyncProgress) {
                firstEvent.countDown()
                onProgress(progress)
            }
        }
        result.set(runCatching { g.sync(listener) })
        done.countDown()
    }.apply { isDaemon = true; start() }

    /** The report, failing the test if the sync does not end within `seconds`. */
    fun await(seconds: Long = 120): SyncReport {
        check(done.await(seconds, TimeUnit.SECONDS)) { "the sync did not end within $seconds s (a hang)" }
        return result.get().getOrThrow()
    }
}

/** Milliseconds `block` took, with its value. */
fun <T> timed(block: () -> T): Pair<T, Long> {
    val t = System.nanoTime()
    val v = block()
    return v to (System.nanoTime() - t) / 1_000_000
}

fun visitNow(note: String) = Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = note)

fun lockTests(s: Suite, serverBin: String, tests: MutableMap<String, () -> Unit>) {
    // One grid of 400 households; the sync goes through a link of 100 KB/s
    // down and 50 KB/s up, so pulling the grid takes several seconds.
    val big by lazy {
        Server(serverBin, households = 400).also { srv -> Runtime.getRuntime().addShutdownHook(Thread { srv.close() }) }
    }
    val slow by lazy { ThrottledProxy(big.url, down = 100_000, up = 50_000) }
    fun slowPhone(): Gridsync {
        val g = Gridsync.open(s.path(), KEY, slow.url)
        g.login(USER, PASSWORD)
        return g
    }
    fun grid() = PlaceFilter(grid = GRID)

    tests["a list read and a visit save during a slow sync return at once, not when the sync ends"] = {
        val g = slowPhone()
        val sync = BackgroundSync(g)
        check(sync.firstEvent.await(120, TimeUnit.SECONDS)) { "no progress from the sync" }
        // The first page is stored; the rest is still on its way.
        val (rows, readMs) = timed { g.households(grid()) }
        check(rows.isNotEmpty()) { "the first page's households are readable during the sync" }
        val (_, saveMs) = timed { g.addVisit(rows.first().id, visitNow("同步期间的走访")) }
        val stillSyncing = sync.done.count == 1L
        val report = sync.await()
        check(readMs < 1500 && saveMs < 1500) { "the read waited $readMs ms and the save $saveMs ms (the sync held the store)" }
        check(stillSyncing) { "the sync had ended before the read and save returned: they waited for it" }
        check(report.docsReceived >= 400) { "the whole grid arrived: $report" }
        g.close()
    }

    tests["a visit saved while a push is on the wire reaches the server, by that sync or the next"] = {
        val g = slowPhone()
        g.sync(null)
        val households = g.households(grid())
        // Enough offline work that the push takes a while on the slow link.
        for (i in 0 until 300) g.addVisit(households[i % households.size].id, visitNow("离线走访 $i"))
        val target = households[7].id
        val sync = BackgroundSync(g)
        Thread.sleep(300) // the push is being sent
        val (during, saveMs) = timed { g.addVisit(target, visitNow("推送期间的走访")) }
        val stillSyncing = sync.done.count == 1L
        sync.await()
        check(saveMs < 1500 && stillSyncing) { "the save waited $saveMs ms for the sync" }
        if (g.status().pendingChanges > 0) g.sync(null)
        check(g.status().pendingChanges == 0L) { "nothing left to push: ${g.status()}" }
        // Another phone, straight to the server, sees the visit.
        val other = Gridsync.open(s.path(), KEY, big.url)
        other.login(USER, PASSWORD)
        other.sync(null)
        val seen = other.household(target).visits.map { it.id }
        check(during in seen) { "the visit saved during the push is on the server" }
        other.close()
        g.close()
    }

    tests["a sync listener may call back into the SDK: reads and saves work, a nested sync is refused at once"] = {
        val g = slowPhone()
        val calls = Collections.synchronizedList(mutableListOf<String>())
        lateinit var household: String
        val sync = BackgroundSync(g) { p ->
            if (calls.isEmpty()) {
                val rows = g.households(grid())
                calls.add("households:${rows.size}")
                calls.add("status:${g.status().pendingChanges}")
                household = rows.first().id
                g.addVisit(household, visitNow("监听器中记录的走访"))
                calls.add("visit")
                val nested = runCatching { g.sync(null) }.exceptionOrNull()
                calls.add("nested:${nested?.javaClass?.simpleName}")
            }
        }
        val report = sync.await(60)
        check(calls.size == 4) { "every call from the listener returned: $calls" }
        check(calls[3] == "nested:Busy") { "a sync from the sync's own listener is refused at once with Busy: $calls" }
        check(report.docsReceived >= 400) { "the sync went on: $report" }
        if (g.status().pendingChanges > 0) g.sync(null)
        check(g.status().pendingChanges == 0L) { "the visit saved from the listener was pushed" }
        g.close()
    }

    tests["a listener that throws is caught: the sync runs to its end and sync throws GridsyncException.Listener"] = {
        val g = Gridsync.open(s.path(), KEY, s.server.url)
        g.login(USER, PASSWORD)
        g.sync(null)
        val h = g.households(grid()).first().id
        g.addVisit(h, visitNow("监听器异常前的走访"))
        val throwing = object : SyncListener {
            override fun onProgress(progress: SyncProgress) {
                throw IllegalStateException("欧阳明 110105199001011234")
            }
        }
        val e = runCatching { g.sync(throwing) }.exceptionOrNull()
        check(e is GridsyncException && e.javaClass.simpleName == "Listener") {
            "a GridsyncException.Listener, not ${e?.javaClass?.name}: ${e?.message}"
        }
        check(e!!.message!!.contains("IllegalStateException")) { "names the exception's class: ${e.message}" }
        check(!e.message!!.contains("欧阳明") && !e.message!!.contains("110105199001011234")) { "never its message: ${e.message}" }
        val st = g.status()
        check(st.pendingChanges == 0L && st.lastSuccess != null && st.lastError == null) { "the sync ran to its end: $st" }

        // A change listener that throws: the edit is saved and returns normally.
        g.setChangeListener(object : ChangeListener {
            override fun onChange(change: ChangeSet) {
                throw RuntimeException("欧阳明")
            }
        })
        val visit = g.addVisit(h, visitNow("监听器异常时的走访"))
        check(g.household(h).visits.any { it.id == visit }) { "the visit was saved" }
        // Another phone's visit, so the sync changes something here and
        // tells the (throwing) change listener.
        s.phone().use { other -> other.addVisit(h, visitNow("另一台手机的走访")); other.sync(null) }
        val e2 = runCatching { g.sync(null) }.exceptionOrNull()
        check(e2 is GridsyncException && e2.javaClass.simpleName == "Listener") { "after the sync: ${e2?.javaClass?.name}" }
        g.setChangeListener(null)
        check(g.status().pendingChanges == 0L) { "the visit was pushed all the same" }
        g.close()
    }
}
