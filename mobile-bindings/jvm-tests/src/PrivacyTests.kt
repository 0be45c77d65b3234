// Private by default and the store's key (issue #19 items 5 and 8), on the
// JVM against the real libgridsync_ffi and the real gridsync-server:
// records for display are masked, the full values come from
// revealResident, which the server's audit log shows after the next sync;
// a displayed record saved back loses nothing; the key rule; rekey.

import cn.gridsync.sdk.*
import java.io.File
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

/** The demo administrator, who may read the audit log. */
const val ADMIN = "admin"

/** A raw key other than [KEY]. */
const val OTHER_KEY = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

/** ID number with the middle eight characters masked, as screens show it. */
fun maskedId(id: String): String = id.take(6) + "********" + id.takeLast(4)

/** The server's audit page as the administrator sees it (signed in on the web). */
fun auditPage(server: Server): String {
    val http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build()
    val form = "username=" + URLEncoder.encode(ADMIN, "UTF-8") + "&password=" + URLEncoder.encode(PASSWORD, "UTF-8")
    val login = http.send(
        HttpRequest.newBuilder(URI.create("${server.url}/web/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form)).build(),
        HttpResponse.BodyHandlers.ofString(),
    )
    // The session cookie, sent back as a browser would (name=value only).
    val cookie = login.headers().firstValue("set-cookie").orElse("").substringBefore(';')
    check(login.statusCode() == 303 && cookie.isNotEmpty()) { "admin web login: ${login.statusCode()} ${login.body().take(200)}" }
    val page = http.send(
        HttpRequest.newBuilder(URI.create("${server.url}/web/admin/audit")).header("Cookie", cookie).GET().build(),
        HttpResponse.BodyHandlers.ofString(),
    )
    check(page.statusCode() == 200) { "audit page: ${page.statusCode()}" }
    return page.body()
}

fun privacyTests(s: Suite, tests: MutableMap<String, () -> Unit>) {
    val server = s.server

    /** A household of one resident with an ID number and a phone, on `g`. */
    fun recorded(g: Gridsync, room: String, id: String, phone: String): Pair<String, String> {
        val hh = g.createHousehold(
            NewHousehold(grid = GRID, place = s.firstPlace(g, room),
                residents = listOf(Resident(name = "隐私测试", idNumber = id, phone = phone))),
        )
        return hh to g.household(hh).residents.single().id
    }

    tests["privacy: household() carries masked ID numbers and phones; revealResident gives them in full"] = {
        val g = s.phone()
        val id = idNumber("19500505", 31)
        val (hh, rid) = recorded(g, "2201", id, "13811112222")
        val r = g.household(hh).residents.single().resident
        check(r.idNumber == maskedId(id)) { "ID number masked in household(): ${r.idNumber}" }
        check(r.phone == "138****2222") { "phone masked in household(): ${r.phone}" }
        check(g.history(hh).flatMap { it.fields }.none { it.value.contains(id) || it.value.contains("13811112222") }) {
            "history shows no full values"
        }
        val full = g.revealResident(hh, rid, "核实身份")
        check(full.idNumber == id && full.phone == "13811112222") { "revealed in full" }
        check(g.pendingReveals() == 1L) { "the reveal waits for the next sync" }
        val e = expectThrows<GridsyncException.Invalid> { g.revealResident(hh, rid, " ") }
        check(e.field == "reason" && hasChinese(e.zh)) { "a reason is required: ${e.field} ${e.zh}" }
        g.close()
    }

    tests["privacy: a reveal on a phone is in the server's audit log after the next sync"] = {
        val g = s.phone()
        val (hh, rid) = recorded(g, "2202", idNumber("19480808", 41), "13933334444")
        val reason = "办理高龄补贴核实身份"
        g.revealResident(hh, rid, reason)
        // The audit page names records in words (issue #14): the person
        // by name and role, the household by its address, the resident by
        // name; the entry is found by its reason.
        fun rows() = auditPage(server).split("<tr>").filter { it.contains(reason) }
        check(rows().isEmpty()) { "not on the server before the sync" }
        val report = g.sync(null)
        check(report.complete) { "synced: $report" }
        check(g.pendingReveals() == 0L) { "sent with the sync" }
        val row = rows().singleOrNull() ?: throw AssertionError("reveal of $rid not in the audit log once")
        for (part in listOf(reason, "（网格员）", "手机查看完整信息", "2202室", "隐私测试")) {
            check(row.contains(part)) { "audit entry names $part: $row" }
        }
        check(!row.contains(hh) && !row.contains(rid)) { "records named in words, not by id: $row" }
        check(!row.contains("13933334444") && !row.contains("19480808")) { "no personal data in the audit entry: $row" }
        // Synced again: recorded once.
        g.sync(null)
        check(rows().size == 1) { "one entry per reveal" }
        g.close()
    }

    tests["privacy: a displayed record saved back keeps the real ID number and phone"] = {
        val g = s.phone()
        val id = idNumber("19620202", 51)
        val (hh, rid) = recorded(g, "2203", id, "13755556666")
        val shown = g.household(hh).residents.single().resident
        g.updateResident(hh, rid, shown.copy(note = "腿脚不便"))
        val full = g.revealResident(hh, rid, "核对修改")
        check(full.idNumber == id) { "ID number kept, not the mask: ${full.idNumber?.let(::maskedId)}" }
        check(full.phone == "13755556666") { "phone kept, not the mask" }
        check(g.household(hh).residents.single().resident.note == "腿脚不便") { "the edit itself is written" }
        // A new phone typed over the mask is written.
        g.updateResident(hh, rid, g.household(hh).residents.single().resident.copy(phone = "13700001111"))
        check(g.revealResident(hh, rid, "核对修改").phone == "13700001111") { "a changed phone is written" }
        // And the server holds the real values: another phone receives them.
        g.sync(null)
        val b = s.phone()
        val got = b.revealResident(hh, rid, "核对同步")
        check(got.idNumber == id && got.phone == "13700001111") { "the real values reached the server" }
        b.close()
        g.close()
    }

    tests["keys: a short key is refused with Invalid naming key"] = {
        val path = s.path()
        for (short in listOf("abcd", "", "eleven char")) {
            val e = expectThrows<GridsyncException.Invalid> { Gridsync.open(path, short, server.url) }
            check(e.field == "key") { "field named: ${e.field}" }
            check(hasChinese(e.zh) && e.zh.contains("64") && e.en.contains("12")) { "the rule stated: ${e.zh} / ${e.en}" }
        }
        check(!File(path).exists()) { "no store file made for a refused key" }
    }

    tests["keys: a 64-hex raw key and a passphrase of 12+ characters are accepted and reopen"] = {
        for (key in listOf(KEY, KEY.uppercase(), "门前的老槐树开花了十二字", "correct horse battery staple")) {
            val path = s.path()
            val dev = Gridsync.open(path, key, server.url).use { it.deviceId() }
            check(Gridsync.open(path, key, server.url).use { it.deviceId() } == dev) { "the same store reopens" }
            expectThrows<GridsyncException.WrongKey> { Gridsync.open(path, OTHER_KEY, server.url) }
        }
    }

    tests["keys: rekey, then the new key opens the store and the old one throws WrongKey"] = {
        val path = s.path()
        val g = s.phone(path)
        val (hh, _) = recorded(g, "2204", idNumber("19700707", 61), "13622223333")
        val e = expectThrows<GridsyncException.Invalid> { g.rekey("abcd") }
        check(e.field == "key") { "new key checked: ${e.field}" }
        g.rekey(OTHER_KEY)
        // The object goes on working.
        g.addVisit(hh, Visit(at = System.currentTimeMillis() - 1000, method = "phone", findings = "回访"))
        check(g.household(hh).visits.size == 1) { "still reads and writes" }
        g.close()
        expectThrows<GridsyncException.WrongKey> { Gridsync.open(path, KEY, server.url) }
        Gridsync.open(path, OTHER_KEY, server.url).use { again ->
            check(again.household(hh).visits.size == 1) { "everything there under the new key" }
            check(again.currentUser()?.username == USER) { "still signed in" }
            // To a passphrase and back.
            again.rekey("a passphrase kept in the keychain")
        }
        expectThrows<GridsyncException.WrongKey> { Gridsync.open(path, OTHER_KEY, server.url) }
        Gridsync.open(path, "a passphrase kept in the keychain", server.url).use { it.rekey(KEY) }
        Gridsync.open(path, KEY, server.url).use { check(it.household(hh).residents.size == 1) { "back on the first key" } }
    }

    tests["keys: after rekey a hand-over makes the new, empty store under the new key"] = {
        val path = s.path()
        val g = s.phone(path)
        g.rekey(OTHER_KEY)
        recorded(g, "2205", idNumber("19800808", 71), "13544445555")
        g.handOver()
        check(g.currentUser() == null) { "signed out by the hand-over" }
        g.close()
        expectThrows<GridsyncException.WrongKey> { Gridsync.open(path, KEY, server.url) }
        Gridsync.open(path, OTHER_KEY, server.url).use { fresh ->
            check(fresh.households(PlaceFilter(grid = GRID)).isEmpty()) { "the new store is empty" }
        }
    }
}
