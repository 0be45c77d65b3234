// The Kotlin test suite of the gridsync phone SDK, run on the JVM against
// the real libgridsync_ffi and a real gridsync-server (see
// ../scripts/test-kotlin.sh). A plain runner: each test is a function, the
// run ends with "N passed, M failed" and exits non-zero on any failure.

import cn.gridsync.sdk.*
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.File
import javax.imageio.ImageIO
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking

const val GRID = "110105001001001"
const val USER = "wangge1"
const val PASSWORD = "gridsync-demo"
const val KEY = "3f7a9c2e5b1d4f6a8c0e2b4d6f8a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a"

fun check(cond: Boolean, what: () -> String) {
    if (!cond) throw AssertionError(what())
}

inline fun <reified E : Throwable> expectThrows(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got ${e::class.qualifiedName}: ${e.message}")
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

/** Whether `s` has Chinese characters. */
fun hasChinese(s: String): Boolean = s.any { it in '\u4e00'..'\u9fff' }

/** A valid citizen ID number (GB 11643) for someone born on `yyyymmdd`. */
fun idNumber(yyyymmdd: String, seq: Int): String {
    val body = "110105$yyyymmdd" + "%03d".format(seq % 1000)
    val weights = intArrayOf(7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    val sum = body.mapIndexed { i, c -> (c - '0') * weights[i] }.sum()
    return body + "10X98765432"[sum % 11]
}

/** The real gridsync-server on a free loopback port, seeded with the demo community (`households` in its grid). */
class Server(private val bin: String, households: Int = 5) : AutoCloseable {
    private val data: File = Files.createTempDirectory("gridsync-server").toFile()
    private val process: Process
    val url: String

    init {
        val seed = ProcessBuilder(bin, "--data-dir", data.path, "demo", "--grids", "1", "--households", "$households")
            .redirectErrorStream(true).start()
        val seedOut = seed.inputStream.bufferedReader().readText()
        check(seed.waitFor(60, TimeUnit.SECONDS) && seed.exitValue() == 0) { "demo seeding failed: $seedOut" }
        val pb = ProcessBuilder(bin, "--data-dir", data.path, "serve", "--addr", "127.0.0.1:0")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
        pb.environment()["GRIDSYNC_LOG"] = "warn"
        process = pb.start()
        val out = process.inputStream.bufferedReader()
        var found: String? = null
        while (found == null) {
            val line = out.readLine() ?: throw AssertionError("server exited before listening")
            if (line.startsWith("listening on ")) found = line.removePrefix("listening on ").trim()
        }
        url = found
        // Keep draining stdout so the server never blocks on a full pipe.
        Thread { out.lineSequence().forEach { } }.apply { isDaemon = true }.start()
    }

    /** `gridsync-server admin …` on this server's data (as an operator would, while it runs). */
    fun admin(vararg args: String) {
        val p = ProcessBuilder(listOf(bin, "--data-dir", data.path, "admin") + args).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) { "admin ${args.toList()} failed: $out" }
    }

    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
        data.deleteRecursively()
    }
}

/** Records every progress report it gets. */
class Recorder : SyncListener {
    val seen: MutableList<SyncProgress> = Collections.synchronizedList(mutableListOf())
    override fun onProgress(progress: SyncProgress) {
        seen.add(progress)
    }
}

class Suite(val server: Server) {
    val dir: File = Files.createTempDirectory("gridsync-phone").toFile()
    private var stores = 0

    fun path(): String = File(dir, "store-${stores++}.db").path

    /** A phone: an encrypted store, signed in as wangge1, synced once (the grid arrives). */
    fun phone(path: String = path()): Gridsync {
        val g = Gridsync.open(path, KEY, server.url)
        g.login(USER, PASSWORD)
        g.sync(null)
        return g
    }

    fun firstPlace(g: Gridsync, room: String): Place {
        val grid = g.grids().first { it.code == GRID }
        val p = grid.places.first()
        return Place(area = p.area, compound = p.compound, building = p.building, unit = p.unit, room = room)
    }
}

/** A real JPEG photo of `w`×`h` pixels (noise, so it does not compress away), written to a file in `dir`. */
fun jpeg(dir: File, name: String, w: Int, h: Int, seed: Int): String {
    val img = BufferedImage(w, h, BufferedImage.TYPE_INT_RGB)
    val rnd = java.util.Random(seed.toLong())
    for (y in 0 until h) for (x in 0 until w) img.setRGB(x, y, Color(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256)).rgb)
    val f = File(dir, name)
    check(ImageIO.write(img, "jpg", f)) { "no JPEG writer" }
    return f.path
}

/**
 * A TCP proxy to the server that cuts every connection once, when `cutAfter`
 * bytes in all have gone up through it (a photo upload dropped halfway on a
 * weak signal); later connections pass untouched.
 */
class CuttingProxy(private val target: String, private val cutAfter: Long) : AutoCloseable {
    private val listener = java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())
    val url = "http://127.0.0.1:${listener.localPort}"
    private val sentUp = java.util.concurrent.atomic.AtomicLong()
    val cut = java.util.concurrent.atomic.AtomicBoolean()

    init {
        val (host, port) = target.removePrefix("http://").split(":").let { it[0] to it[1].toInt() }
        Thread {
            while (!listener.isClosed) {
                val client = try { listener.accept() } catch (e: java.io.IOException) { break }
                val upstream = java.net.Socket(host, port)
                pump(client, upstream, up = true)
                pump(upstream, client, up = false)
            }
        }.apply { isDaemon = true }.start()
    }

    private fun pump(from: java.net.Socket, to: java.net.Socket, up: Boolean) {
        Thread {
            val buf = ByteArray(16 * 1024)
            try {
                while (true) {
                    val n = from.getInputStream().read(buf)
                    if (n < 0) break
                    if (up && !cut.get() && sentUp.addAndGet(n.toLong()) > cutAfter && cut.compareAndSet(false, true)) {
                        // Half of this read goes, then the line drops.
                        to.getOutputStream().write(buf, 0, n / 2)
                        from.close(); to.close()
                        break
                    }
                    to.getOutputStream().write(buf, 0, n)
                }
            } catch (e: java.io.IOException) {
            } finally {
                runCatching { to.shutdownOutput() }
            }
        }.apply { isDaemon = true }.start()
    }

    override fun close() = listener.close()
}

fun main() {
    val serverBin = System.getProperty("gridsync.server") ?: error("-Dgridsync.server=<path to gridsync-server> is required")
    var passed = 0
    var failed = 0
    Server(serverBin).use { server ->
        val s = Suite(server)
        // The phone the first tests build up; later tests use it.
        lateinit var phoneA: Gridsync
        lateinit var householdId: String
        lateinit var residentId: String
        val tests = linkedMapOf<String, () -> Unit>()

        tests["records a household, residents and a visit offline in an encrypted store"] = {
            val path = s.path()
            phoneA = s.phone(path)
            check(phoneA.currentUser()?.username == USER) { "signed in as $USER" }
            check(phoneA.grids().any { it.code == GRID }) { "grid $GRID arrived with the first sync" }
            // From here on no network call until the next sync: offline.
            val place = s.firstPlace(phoneA, "1801")
            householdId = phoneA.createHousehold(
                NewHousehold(
                    grid = GRID,
                    place = place,
                    house = HouseFacts(usage = "residential", occupants = 2),
                    residents = listOf(
                        Resident(name = "欧阳秀英", idNumber = idNumber("19420315", 12), relation = "02",
                            tags = listOf("living_alone_elderly"), phone = "13812345678"),
                    ),
                ),
            )
            residentId = phoneA.addResident(householdId, Resident(name = "欧阳建国", idNumber = idNumber("19700101", 11)))
            val visitId = phoneA.addVisit(
                householdId,
                Visit(at = System.currentTimeMillis() - 60_000, method = "in_person",
                    findings = "老人身体状况良好", needs = "希望安装扶手", followUp = true),
            )
            val h = phoneA.household(householdId)
            check(h.residents.size == 2) { "two residents, got ${h.residents.size}" }
            check(h.visits.single().id == visitId) { "the visit is recorded" }
            check(h.visits.single().visit.visitor.isNotEmpty()) { "visitor filled with the signed-in user" }
            check(phoneA.status().pendingChanges >= 3) { "changes wait in the outbox: ${phoneA.status()}" }
            // The lists the screens need.
            val byUnit = phoneA.households(PlaceFilter(grid = GRID, building = place.building, unit = place.unit))
            check(byUnit.any { it.id == householdId && it.residents == 2L }) { "listed by building/unit" }
            val tagged = phoneA.residentsWithTag("living_alone_elderly")
            check(tagged.any { it.householdId == householdId && it.name == "欧阳秀英" }) { "listed by tag" }
            check(tagged.all { it.idNumberMasked?.contains("*") ?: true }) { "ID numbers masked in lists" }
            check(phoneA.householdsNotVisited(30).none { it.id == householdId }) { "visited today" }
            check(phoneA.householdsNotVisited(30).isNotEmpty()) { "the demo households were never visited" }
            check(phoneA.searchResidents("欧阳").size == 2) { "search by name" }
            // Encrypted at rest: the names are nowhere in the files.
            val name = "欧阳秀英".toByteArray(Charsets.UTF_8)
            for (f in File(path).parentFile.listFiles()!!.filter { it.name.startsWith(File(path).name) }) {
                val bytes = f.readBytes()
                val hit = (0..bytes.size - name.size).any { i -> name.indices.all { j -> bytes[i + j] == name[j] } }
                check(!hit) { "resident name found in plain text in ${f.name}" }
            }
        }

        tests["syncs with progress callbacks arriving in Kotlin"] = {
            val rec = Recorder()
            val report = phoneA.sync(rec)
            check(report.pushed >= 3) { "pushed the offline changes: $report" }
            check(rec.seen.isNotEmpty()) { "progress reported" }
            check(rec.seen.last().phase == SyncPhase.DONE) { "last report is DONE: ${rec.seen.last()}" }
            check(rec.seen.first().changesTotal >= 3) { "first report counts the changes to send" }
            check(report.complete && report.heldBack == 0L && report.refusedWaiting == 0L) { "everything typed is on the server: $report" }
            check(report.clockOffsetMs != null && !report.clockWarning && report.warnings.isEmpty()) { "the clocks agree: $report" }
            val st = phoneA.status()
            check(st.pendingChanges == 0L && st.lastSuccess != null && st.lastError == null) { "status after sync: $st" }
            check(st.oldestUnsyncedAgeMs == null) { "nothing unsynced: $st" }
        }

        tests["sees an edit made by a second device"] = {
            val phoneB = s.phone()
            val h = phoneB.household(householdId)
            check(h.residents.size == 2) { "phone B received the household" }
            val r = h.residents.first { it.id == residentId }.resident
            phoneB.updateResident(householdId, residentId, r.copy(phone = "13987654321", note = "B 手机修改"))
            phoneB.addVisit(householdId, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "电话回访"))
            phoneB.sync(null)
            phoneB.close()
            val rec = Recorder()
            val report = phoneA.sync(rec)
            check(report.docsReceived >= 1) { "A received B's change: $report" }
            val after = phoneA.household(householdId)
            val edited = after.residents.first { it.id == residentId }.resident
            check(edited.phone == "139****4321") { "B's phone edit arrived (shown masked): ${edited.phone}" }
            check(after.visits.size == 2) { "B's visit arrived" }
            check(phoneA.history(householdId).any { it.op == "update_resident" && it.opName == "修改居民信息" }) { "history shows the edit, in words" }
            check(codes(CodeTable.OPERATION).any { it.code == "add_visit" && it.name == "新增走访记录" }) { "the operations table" }
            // The history in words (issue #14 item 1), as the household page writes it.
            val fields = phoneA.history(householdId).flatMap { it.fields }
            val tag = fields.first { it.path.takeLast(2) == listOf("tags", "living_alone_elderly") }
            check(tag.label == "关注标签" && tag.text == "独居老人") { "a tag in words: ${tag.label} ${tag.text}" }
            val relation = fields.first { it.path.lastOrNull() == "relation" }
            val spouse = codes(CodeTable.RELATION).first { it.code == "02" }.name
            check(relation.label == "与户主关系" && relation.text == spouse) { "a code in words: ${relation.label} ${relation.text}" }
            val phone = fields.last { it.path.lastOrNull() == "phone" }
            check(phone.label == "联系电话" && phone.text == "139****4321") { "a phone masked: ${phone.label} ${phone.text}" }
        }

        tests["invalid ID number is a typed exception naming the field"] = {
            val good = idNumber("19800101", 21)
            val bad = good.dropLast(1) + (if (good.last() == '0') '1' else '0')
            val e = expectThrows<GridsyncException.Invalid> {
                phoneA.addResident(householdId, Resident(name = "张三", idNumber = bad))
            }
            check(e.field == "idNumber") { "field named in Kotlin's names: ${e.field}" }
            check(e.reason.isNotBlank() && e.zh == e.reason) { "Chinese reason: ${e.reason} / ${e.zh}" }
            check(hasChinese(e.zh) && e.en.isNotBlank() && !hasChinese(e.en)) { "Chinese and English apart: ${e.zh} | ${e.en}" }
            check(e.message == "${e.zh} / ${e.en}") { "readable message, Chinese first: ${e.message}" }
            check(!e.message!!.contains("field=")) { "message is not a field dump: ${e.message}" }
            check(!e.message!!.contains(bad)) { "no personal data in the message" }
            val nested = expectThrows<GridsyncException.Invalid> {
                phoneA.createHousehold(NewHousehold(grid = GRID, place = s.firstPlace(phoneA, "1802"),
                    residents = listOf(Resident(name = "李四", idNumber = bad))))
            }
            check(nested.field == "residents[0].idNumber") { "nested field named: ${nested.field}" }
        }

        tests["wrong password is Unauthorized"] = {
            val g = Gridsync.open(s.path(), KEY, server.url)
            val e = expectThrows<GridsyncException.Unauthorized> { g.login(USER, "not-the-password") }
            check(e.message!!.isNotBlank() && !e.message!!.startsWith("text=")) { "readable: ${e.message}" }
            expectThrows<GridsyncException.Unauthorized> { g.sync(null) }
            val last = g.status().lastError
            check(last?.kind == ErrorKind.UNAUTHORIZED) { "the failed sync is in the status, typed: $last" }
            check(hasChinese(last!!.zh) && last.en.isNotBlank() && !hasChinese(last.en)) { "Chinese and English apart: $last" }
            g.close()
        }

        tests["wrong key is WrongKey, not a crash"] = {
            val path = s.path()
            Gridsync.open(path, KEY, null).use { it.deviceId() }
            val e = expectThrows<GridsyncException.WrongKey> { Gridsync.open(path, KEY.reversed(), null) }
            check(e.message!!.contains("密钥")) { "readable: ${e.message}" }
            Gridsync.open(path, KEY, null).use { it.deviceId() }
        }

        tests["unreachable server is Network"] = {
            Gridsync.open(s.path(), KEY, "http://127.0.0.1:9").use { g ->
                val e = expectThrows<GridsyncException.Network> { g.login(USER, PASSWORD) }
                check(hasChinese(e.zh) && !hasChinese(e.en) && e.message!!.startsWith(e.zh)) { "Chinese first: ${e.message}" }
            }
        }

        tests["sync can be cancelled"] = {
            val cancelling = object : SyncListener {
                override fun onProgress(progress: SyncProgress) = phoneA.cancelSync()
            }
            expectThrows<GridsyncException.Cancelled> { phoneA.sync(cancelling) }
            phoneA.sync(null)
        }

        tests["calls from many threads and coroutines at once"] = {
            val errors = AtomicInteger()
            val before = phoneA.household(householdId).visits.size
            runBlocking(Dispatchers.IO) {
                val jobs = (0 until 16).map { i ->
                    async {
                        try {
                            phoneA.addVisit(householdId, Visit(at = System.currentTimeMillis() - 1000, method = "message", findings = "并发 $i"))
                            phoneA.households(PlaceFilter(grid = GRID))
                            phoneA.searchResidents("欧阳")
                            phoneA.status()
                            if (i % 4 == 0) phoneA.sync(null)
                        } catch (e: Throwable) {
                            errors.incrementAndGet()
                            System.err.println("call $i failed: $e")
                        }
                    }
                }
                jobs.awaitAll()
            }
            val threads = (0 until 8).map { i ->
                Thread {
                    try {
                        phoneA.household(householdId)
                        phoneA.residentsWithTag("living_alone_elderly")
                        phoneA.addVisit(householdId, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "线程 $i"))
                    } catch (e: Throwable) {
                        errors.incrementAndGet()
                    }
                }.apply { start() }
            }
            threads.forEach { it.join() }
            check(errors.get() == 0) { "${errors.get()} concurrent calls failed" }
            val after = phoneA.household(householdId).visits.size
            check(after == before + 24) { "every visit recorded: $before → $after" }
            phoneA.sync(null)
            check(phoneA.status().pendingChanges == 0L) { "all pushed" }
        }

        tests["nothing is recorded while nobody is signed in"] = {
            val g = s.phone()
            val h = g.households(PlaceFilter(grid = GRID)).first().id
            g.logout()
            val e = expectThrows<GridsyncException.Unauthorized> {
                g.addVisit(h, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "未登录"))
            }
            check(e.message!!.startsWith("请先登录")) { "Chinese reason first: ${e.message}" }
            check(g.status().pendingChanges == 0L) { "nothing written" }
            g.close()
        }

        tests["the report loop: a worker reports offline with two photos; supervisor, 城管 and worker take every step"] = {
            val worker = s.phone()
            val cat = worker.issueCatalogue()
            val sanitation = cat.first { it.code == "sanitation" }
            check(sanitation.name == "环境卫生" && sanitation.subtypes.any { it.code == "garbage" && it.name == "垃圾堆放" }) { "catalogue: $sanitation" }
            check(codes(CodeTable.ISSUE_SOURCE).any { it.code == "patrol" && it.name == "巡查" }) { "sources" }
            // Offline from here until the sync.
            val id = worker.reportIssue(NewReport(grid = GRID, category = "sanitation", subtype = "garbage",
                description = "3号楼东侧垃圾堆放，影响通行", source = "patrol", urgency = "urgent",
                building = "3号楼东侧", lat = 39.9075, lon = 116.3972))
            val p1 = worker.attachPhoto(id, jpeg(s.dir, "p1.jpg", 400, 300, 1))
            val p2 = worker.attachPhoto(id, jpeg(s.dir, "p2.jpg", 300, 400, 2))
            val bad = expectThrows<GridsyncException.Invalid> {
                worker.reportIssue(NewReport(grid = GRID, category = "sanitation", subtype = "garbage", description = " ", source = "patrol"))
            }
            check(bad.field == "description" && bad.reason.startsWith("事件描述")) { "typed refusal: ${bad.field} ${bad.reason}" }
            val mine = worker.myReports()
            check(mine.any { it.id == id && it.stage == ReportStage.REPORTED && it.stageName == "待受理" }) { "my reports: $mine" }
            val rec = Recorder()
            val r = worker.sync(rec)
            check(r.complete && r.blobsUploaded == 2L && r.blobsPending == 0L) { "report and photos on the server: $r" }
            val photoBytes = File(s.dir, "p1.jpg").length() + File(s.dir, "p2.jpg").length()
            check(r.blobBytesSent >= photoBytes) { "photo bytes sent: ${r.blobBytesSent} of $photoBytes" }
            check(rec.seen.any { it.bytesDone >= photoBytes }) { "photo bytes in the progress" }

            // The community supervisor's phone sees it, with its photos.
            val sup = Gridsync.open(s.path(), KEY, server.url)
            sup.login("shequ", PASSWORD)
            sup.sync(null)
            val seen = sup.report(id)
            check(seen.photos == listOf(p1, p2) && seen.sourceName == "巡查" && seen.urgencyName == "紧急") { "supervisor sees the report: $seen" }
            check(seen.row.description.startsWith("3号楼东侧")) { "description" }
            check(sup.thumbnail(p1).isNotEmpty() && sup.photo(p2).size.toLong() == File(s.dir, "p2.jpg").length()) { "photos on demand" }
            // Out of stage: refused at once, in Chinese.
            val early = expectThrows<GridsyncException.Invalid> { sup.takeStep(id, Step(kind = StepKind.CLOSE)) }
            check(early.field == "kind" && early.reason.contains("不能结案")) { "refused: ${early.reason}" }
            sup.takeStep(id, Step(kind = StepKind.ACCEPT, note = "已受理"))
            sup.takeStep(id, Step(kind = StepKind.DISPATCH, assignee = "dept:chengguan", note = "请城管处理"))
            check(sup.sync(null).complete) { "supervisor's steps on the server" }

            // The 城管 user's phone handles, with a photo, and feeds back.
            val cg = Gridsync.open(s.path(), KEY, server.url)
            cg.login("chengguan", PASSWORD)
            cg.sync(null)
            check(cg.openReports(null).any { it.id == id && it.stage == ReportStage.DISPATCHED && it.deadline != null }) { "dispatched to 城管, with a deadline" }
            cg.takeStep(id, Step(kind = StepKind.HANDLE, note = "已清运"))
            cg.takeStep(id, Step(kind = StepKind.FEEDBACK, note = "垃圾已清运完毕"))
            val cgSync = cg.sync(null)
            check(cgSync.complete) { "城管's steps on the server: $cgSync" }

            // The worker verifies; a close by the worker is refused at once, typed, with the server's reason.
            worker.sync(null)
            check(worker.report(id).row.stage == ReportStage.FED_BACK) { "the worker sees 待核查" }
            worker.takeStep(id, Step(kind = StepKind.VERIFY_PASS, note = "现场已核实", photoPaths = listOf(jpeg(s.dir, "after.jpg", 200, 200, 3))))
            val refused = expectThrows<GridsyncException.Forbidden> { worker.takeStep(id, Step(kind = StepKind.CLOSE)) }
            check(refused.zh == "网格员不能结案：须由负责该层级的社区或街道管理员结案" && refused.en.isNotEmpty()) { "Chinese reason: ${refused.zh}" }
            check(worker.report(id).row.stage == ReportStage.VERIFIED) { "nothing recorded" }
            val verified = worker.sync(null)
            check(verified.complete && verified.rejected == 0L && verified.blobsUploaded == 1L) { "the check and its photo on the server: $verified" }

            // The supervisor closes; the worker records the resident's rating.
            // The supervisor's screen is told what the sync changed, and re-reads the report from the callback.
            val changes = Collections.synchronizedList(mutableListOf<Pair<ChangeSet, ReportStage>>())
            sup.setChangeListener(object : ChangeListener {
                override fun onChange(change: ChangeSet) {
                    changes.add(change to sup.report(id).row.stage)
                }
            })
            sup.sync(null)
            check(changes.any { (c, stage) -> c.fromSync && c.reports && id in c.docs && stage == ReportStage.VERIFIED }) { "told of the new steps: $changes" }
            sup.takeStep(id, Step(kind = StepKind.CLOSE, note = "结案"))
            check(changes.any { (c, stage) -> !c.fromSync && c.docs == listOf(id) && stage == ReportStage.CLOSED }) { "told of the local step: $changes" }
            sup.setChangeListener(null)
            check(sup.sync(null).complete) { "closed on the server" }
            worker.sync(null)
            worker.takeStep(id, Step(kind = StepKind.RATE, rating = 5))
            check(worker.sync(null).complete) { "rated on the server" }
            sup.sync(null)
            val done = sup.report(id)
            check(done.row.stage == ReportStage.RATED && done.rating == 5) { "the loop is complete: ${done.row}" }
            check(done.steps.map { it.name } == listOf("上报", "受理", "派遣", "处置", "反馈", "核查通过", "结案", "评价")) { "steps: ${done.steps.map { it.name }}" }
            check(done.steps.first { it.kind == "handle" }.note == "已清运" && done.photos.size == 3) { "notes and the check's photo: ${done.photos}" }
            check(worker.myReports().none { it.id == id }) { "no longer open" }
            listOf(worker, sup, cg).forEach { it.close() }
        }

        tests["a phone handed over to another worker: everything synced first, then the old user's data removed"] = {
            val path = s.path()
            val g = s.phone(path)
            val before = g.deviceId()
            val h = g.households(PlaceFilter(grid = GRID)).first().id
            g.addVisit(h, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "交接前录入"))
            // A step the server refuses: the worker's phone, not synced since the supervisor
            // dispatched the report to 城管, takes the report itself and handles it (its stale
            // view allows it; the server's does not): no hand-over.
            val id = g.reportIssue(NewReport(grid = GRID, category = "sanitation", subtype = "garbage", description = "交接测试", source = "patrol"))
            g.sync(null)
            val sup = Gridsync.open(s.path(), KEY, server.url)
            sup.login("shequ", PASSWORD)
            sup.sync(null)
            sup.takeStep(id, Step(kind = StepKind.ACCEPT))
            sup.takeStep(id, Step(kind = StepKind.DISPATCH, assignee = "dept:chengguan"))
            check(sup.sync(null).complete) { "dispatched on the server" }
            sup.close()
            g.takeStep(id, Step(kind = StepKind.ACCEPT))
            g.takeStep(id, Step(kind = StepKind.DISPATCH, assignee = g.currentUser()!!.id))
            g.takeStep(id, Step(kind = StepKind.HANDLE, note = "自行处置"))
            val e = expectThrows<GridsyncException.Unsynced> { g.handOver() }
            check(e.message!!.startsWith("本机还有未上传")) { "Chinese reason first: ${e.message}" }
            check(g.currentUser()?.username == USER && g.deviceId() == before && g.rejectedChanges().any { it.docId == id }) { "nothing removed" }
            g.discardRejected(id)
            val r = g.handOver()
            check(r.complete) { "the final sync was complete: $r" }
            check(g.currentUser() == null && g.grids().isEmpty() && g.openReports(null).isEmpty()) { "the old user's data is gone" }
            check(g.deviceId() != before) { "a new device for the next worker" }
            expectThrows<GridsyncException.Unauthorized> { g.addVisit(h, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "x")) }
            // What was typed reached the server; the next worker signs in on the same phone.
            val other = s.phone()
            check(other.household(h).visits.any { it.visit.findings == "交接前录入" }) { "the visit is on the server" }
            other.close()
            g.login("shequ", PASSWORD)
            g.sync(null)
            check(g.currentUser()?.username == "shequ" && g.grids().any { it.code == GRID }) { "the next worker's data arrived" }
            g.close()
        }

        tests["a photo upload cut halfway resumes where the server stands"] = {
            val path = s.path()
            s.phone(path).close()
            // A photo over 1 MB (noise does not compress): three upload chunks.
            val img = BufferedImage(1200, 900, BufferedImage.TYPE_INT_RGB)
            val rnd = java.util.Random(7)
            for (y in 0 until 900) for (x in 0 until 1200) img.setRGB(x, y, rnd.nextInt(0x1000000))
            val file = File(s.dir, "big.jpg")
            val writer = ImageIO.getImageWritersByFormatName("jpg").next()
            val param = writer.defaultWriteParam.apply { compressionMode = javax.imageio.ImageWriteParam.MODE_EXPLICIT; compressionQuality = 0.95f }
            javax.imageio.stream.FileImageOutputStream(file).use { out -> writer.output = out; writer.write(null, javax.imageio.IIOImage(img, null, null), param) }
            val size = file.length()
            check(size > 1_000_000) { "a large photo: $size bytes" }
            CuttingProxy(server.url, cutAfter = size / 2).use { proxy ->
                val g = Gridsync.open(path, KEY, proxy.url)
                val id = g.reportIssue(NewReport(grid = GRID, category = "sanitation", subtype = "garbage", description = "断点续传", source = "patrol"))
                val hash = g.attachPhoto(id, file.path)
                var sent = 0L
                val first = runCatching { g.sync(null) }
                check(proxy.cut.get()) { "the upload was cut" }
                first.getOrNull()?.let { sent += it.blobBytesSent }
                val r = if (first.isSuccess && first.getOrThrow().blobsPending == 0L) first.getOrThrow() else g.sync(null).also { sent += it.blobBytesSent }
                check(r.blobsPending == 0L && r.complete) { "the photo is on the server: $r" }
                // Resumed, not sent again from the start: at most one chunk (512 KiB) more than the photo.
                if (first.isSuccess) check(sent <= size + 512 * 1024 + 1) { "resumed: $sent bytes sent for $size" }
                else check(r.blobBytesSent < size) { "the second sync sent only the rest: ${r.blobBytesSent} of $size" }
                g.close()
                val sup = Gridsync.open(s.path(), KEY, server.url)
                sup.login("shequ", PASSWORD)
                sup.sync(null)
                check(sup.photo(hash).contentEquals(file.readBytes())) { "the server has the whole photo" }
                sup.close()
            }
        }

        tests["not found is typed, Chinese first"] = {
            val e = expectThrows<GridsyncException.NotFound> { phoneA.household("0190a0b0-0000-7000-8000-000000000000") }
            check(hasChinese(e.zh) && e.en.isNotBlank() && !hasChinese(e.en)) { "Chinese and English apart: ${e.zh} | ${e.en}" }
            check(e.message!!.startsWith(e.zh)) { "Chinese first: ${e.message}" }
        }

        tests["progress a bar can show: totals from the first event, often, never backwards"] = {
            Server(serverBin, households = 400).use { big ->
                val g = Gridsync.open(s.path(), KEY, big.url)
                g.login(USER, PASSWORD)
                val rec = Recorder()
                val report = g.sync(rec)
                val seen = rec.seen.toList()
                check(report.docsReceived >= 400) { "the grid arrived: $report" }
                val first = seen.first()
                check(first.docsTotal >= 400 && first.docsReceived <= 100) { "totals known from the first event: $first" }
                check(first.fraction < 0.5) { "the first event is not shown as done: $first" }
                for ((a, b) in seen.zipWithNext()) {
                    check(b.fraction >= a.fraction) { "the bar went backwards: $a then $b" }
                    check(b.docsReceived - a.docsReceived <= 100) { "more than 100 documents between events: $a then $b" }
                }
                check(seen.size >= 5) { "an event at least every 100 documents: ${seen.size} events" }
                check(seen.last().phase == SyncPhase.DONE && seen.last().fraction == 1.0) { "ends at 1.0: ${seen.last()}" }
                g.close()
            }
        }

        tests["code tables for the pickers"] = {
            val tags = codes(CodeTable.ATTENTION_TAG)
            check(tags.any { it.code == "living_alone_elderly" && it.name == "独居老人" }) { "attention tags: $tags" }
        }

        asyncTests(s, tests)
        lockTests(s, serverBin, tests)
        privacyTests(s, tests)
        contactTests(s, tests)

        for ((name, body) in tests) {
            try {
                body()
                passed++
                println("ok    $name")
            } catch (e: Throwable) {
                failed++
                println("FAIL  $name: $e")
                e.printStackTrace()
            }
        }
        runCatching { phoneA.close() }
        s.dir.deleteRecursively()
    }
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
