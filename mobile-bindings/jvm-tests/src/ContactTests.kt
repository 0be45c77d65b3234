// 楼栋长 and 单元长 on the phone SDK (issue #14 item 6), on the JVM against
// the real libgridsync_ffi and the real gridsync-server: a building head
// gets the masked roster of their building by sync, records a contact
// offline, and the grid worker's phone receives it; a household outside
// the roster is refused at once.

import cn.gridsync.sdk.*

fun contactTests(s: Suite, tests: MutableMap<String, () -> Unit>) {
    tests["building head: a masked roster by sync, a contact offline, the grid worker receives it"] = {
        val worker = s.phone()
        // A household with a known resident, in the demo grid's first building.
        val place = s.firstPlace(worker, "2801")
        val id = idNumber("19400101", 77)
        val hh = worker.createHousehold(
            NewHousehold(grid = GRID, place = place,
                residents = listOf(Resident(name = "欧阳秀兰", idNumber = id, phone = "13955556666",
                    birthDate = "1940-01-01", tags = listOf("advanced_age_elderly", "severe_mental_disorder")))),
        )
        worker.sync(null)
        s.server.admin("user", "add", "--username", "loudong1", "--name", "楼栋长甲", "--role", "building_head",
            "--post", "$GRID/${place.compound}/${place.building}", "--password", PASSWORD)

        val head = Gridsync.open(s.path(), KEY, s.server.url)
        head.login("loudong1", PASSWORD)
        check(head.buildingRoster() == null) { "no roster before the first sync" }
        head.sync(null)
        val roster = head.buildingRoster() ?: error("the sync brought the roster")
        check(roster.grid == GRID && roster.post.contains(place.building)) { "the head's building: ${roster.post}" }
        val row = roster.households.single { it.id == hh }
        val p = row.residents.single()
        check(p.name == "欧**兰") { "name masked: ${p.name}" }
        check(p.phone == "139****6666") { "phone masked: ${p.phone}" }
        check(p.age != null && p.age!! >= 85u) { "age instead of the birth date: ${p.age}" }
        check(p.tags == listOf("advanced_age_elderly")) { "sensitive tags left out: ${p.tags}" }
        check(roster.households.all { r -> r.residents.none { it.name.contains("秀兰") && it.name.length > 3 } })
        check(head.grids().isEmpty()) { "no grid document reaches a head" }

        // Offline: a contact against the roster; one outside it is refused at once.
        val cid = head.logContact(NewContact(household = hh, method = "", findings = "老人身体尚可",
            needs = "想申请高龄补贴", followUp = true))
        val e = expectThrows<GridsyncException.Invalid> {
            head.logContact(NewContact(household = "not-on-the-roster", method = "", findings = "x", needs = "", followUp = false))
        }
        check(e.field == "household" && hasChinese(e.zh)) { "refused naming the household: ${e.field} ${e.zh}" }
        check(head.contacts().single().id == cid)
        val report = head.sync(null)
        check(report.complete) { "the contact reached the server: $report" }

        worker.sync(null)
        check(worker.history(cid).isNotEmpty()) { "the grid worker's phone received the contact" }
        head.close()
        worker.close()
    }
}
