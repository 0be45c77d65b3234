// The grid worker's phone in the cross-surface report loop
// (tests/browser/loop.test.mjs): the real Kotlin bindings on the JVM,
// driven one phase at a time while supervisors and the 城管 clerk work in
// Chromium. Each phase opens the same encrypted store, does its part,
// syncs, and prints one JSON line for the driver; any failed check exits 1.
//
// Usage: java … CrossLoopKt <phase> <store> <server-url> [report-id]
//   report  sign in as wangge1, report offline with two photos, then sync
//   verify  sync; check the others' steps arrived; an out-of-role close is
//           refused at once; 核查通过 with a note; sync
//   rate    sync; check it is closed; record the resident's rating; sync

import cn.gridsync.sdk.*
import java.io.File
import kotlin.system.exitProcess

private fun json(vararg pairs: Pair<String, Any?>): String =
    pairs.joinToString(",", "{", "}") { (k, v) ->
        "\"$k\":" + when (v) {
            null -> "null"
            is Number, is Boolean -> v.toString()
            is List<*> -> v.joinToString(",", "[", "]") { "\"" + it.toString().replace("\"", "\\\"") + "\"" }
            else -> "\"" + v.toString().replace("\\", "\\\\").replace("\"", "\\\"") + "\""
        }
    }

private fun steps(r: Report): List<String> = r.steps.filter { it.superseded == null }.map { it.kind }

fun main(args: Array<String>) {
    if (args.size < 3) {
        System.err.println("usage: CrossLoopKt <report|verify|rate> <store> <server-url> [report-id]")
        exitProcess(2)
    }
    val (phase, store, url) = Triple(args[0], args[1], args[2])
    try {
        val phone = Gridsync.open(store, KEY, url)
        when (phase) {
            "report" -> {
                phone.login(USER, PASSWORD)
                phone.sync(null)
                // Offline from here until the sync: the report and its photos wait on the phone.
                val id = phone.reportIssue(
                    NewReport(grid = GRID, category = "sanitation", subtype = "garbage",
                        description = "幸福小区3号楼东侧建筑垃圾堆放，占用消防通道", source = "patrol",
                        urgency = "urgent", building = "3号楼东侧"),
                )
                val dir = File(store).parentFile
                val photos = listOf(
                    phone.attachPhoto(id, jpeg(dir, "loop-1.jpg", 640, 480, 11)),
                    phone.attachPhoto(id, jpeg(dir, "loop-2.jpg", 480, 640, 12)),
                )
                check(phone.status().pendingChanges > 0) { "the report waits in the outbox" }
                val r = phone.sync(null)
                check(r.complete && r.blobsUploaded == 2L && r.blobsPending == 0L) { "report and photos on the server: $r" }
                println(json("id" to id, "photos" to photos))
            }
            "verify" -> {
                val id = args[3]
                check(phone.sync(null).complete) { "synced" }
                val r = phone.report(id)
                check(r.row.stage == ReportStage.FED_BACK) { "the phone sees 待核查: ${r.row.stage}" }
                val seen = steps(r)
                // The supervisors' and the clerk's steps, with their notes, arrived by sync.
                for (k in listOf("escalate", "accept", "dispatch", "handle", "feedback")) {
                    check(k in seen) { "$k arrived: $seen" }
                }
                val handled = r.steps.first { it.kind == "handle" }
                check(handled.role == "department" && handled.note == "已清运建筑垃圾，恢复消防通道") { "the clerk's note: ${handled.note}" }
                check(r.row.assignee == "dept:chengguan") { "dispatched to 城管: ${r.row.assignee}" }
                check(r.photos.size == 3) { "the clerk's photo is listed: ${r.photos.size}" }
                check(phone.thumbnail(r.photos[2]).isNotEmpty()) { "the clerk's photo, fetched on demand" }
                // Closing is the supervisor's: refused at once, typed, with the reason.
                val refused = try {
                    phone.takeStep(id, Step(kind = StepKind.CLOSE))
                    error("a grid worker's close was accepted")
                } catch (e: GridsyncException.Forbidden) {
                    e.zh
                }
                check(refused.startsWith("网格员不能结案")) { "Chinese reason: $refused" }
                phone.takeStep(id, Step(kind = StepKind.VERIFY_PASS, note = "现场核实，通道已畅通"))
                val s = phone.sync(null)
                check(s.complete && s.rejected == 0L) { "the check is on the server: $s" }
                println(json("seen" to seen, "refused" to refused))
            }
            "rate" -> {
                val id = args[3]
                check(phone.sync(null).complete) { "synced" }
                val before = phone.report(id)
                check(before.row.stage == ReportStage.CLOSED) { "the phone sees 已结案: ${before.row.stage}" }
                check(before.steps.first { it.kind == "close" }.note == "群众满意，予以结案") { "the close's note" }
                phone.takeStep(id, Step(kind = StepKind.RATE, rating = 5, note = "居民表示满意"))
                check(phone.sync(null).complete) { "the rating is on the server" }
                val done = phone.report(id)
                check(done.row.stage == ReportStage.RATED && done.rating == 5) { "rated: ${done.row.stage}" }
                check(phone.myReports().none { it.id == id }) { "no longer open" }
                println(json("steps" to done.steps.map { it.name }))
            }
            else -> error("unknown phase $phase")
        }
        phone.close()
    } catch (e: Throwable) {
        System.err.println("phone phase $phase failed: ${e::class.simpleName}: ${e.message}")
        exitProcess(1)
    }
}
