//! Recording and listing the ledger: grids, households, residents, visits,
//! the coverage lists (`not-visited`, `not-contacted`) and the code tables.
//! Every rule is the core's; this module maps flags to its calls and its
//! answers to tables.

use gridsync_core::codes::{
    AttentionTag, Ethnicity, HouseUse, Relation, ResidenceStatus, VisitMethod,
};
use gridsync_core::grid::NewGrid;
use gridsync_core::household::{HouseFacts, NewHousehold, Place, Resident, Visit};
use gridsync_core::store::{HouseholdRow, PlaceFilter, ResidentRow};
use gridsync_core::tagset::TagSet;
use gridsync_core::{HouseholdFields, Store};
use serde_json::json;

use crate::args::{
    CodeTable, GridCommand, HouseArgs, HouseholdAdd, HouseholdCommand, HouseholdEdit,
    PlaceFilterArgs, ResidentCommand, ResidentField, ResidentFields, VisitAdd, VisitCommand,
};
use crate::output::{
    Output, Table, code_of, code_tables, key_values, method_label, or_dash, sex_label,
    status_label, tag_label, time_or_never,
};

pub(crate) fn grid(store: &mut Store, cmd: GridCommand) -> anyhow::Result<Output> {
    match cmd {
        GridCommand::Show { code } => {
            let g = store.grid(&code)?;
            let mut human = key_values(&[
                ("网格编码 / code", g.grid.clone()),
                ("名称 / name", g.name.clone()),
                ("社区 / community", g.community.clone()),
                ("街道 / street", g.street.clone()),
                ("记录编号 / document", g.id.clone()),
            ]);
            human.push_str("楼栋单元 / places（片区/小区/楼栋/单元）:\n");
            for place in g.places.iter() {
                human.push_str(&format!("  {place}\n"));
            }
            Output::new(&g, human)
        }
        GridCommand::Create {
            code,
            name,
            community,
            street,
        } => {
            let id = store.create_grid(NewGrid {
                code: code.clone(),
                name,
                community,
                street,
            })?;
            Output::new(
                json!({ "id": id, "code": code }),
                format!("已创建网格 / grid created: {code} ({id})"),
            )
        }
        GridCommand::AddPlace {
            code,
            area,
            compound,
            building,
            unit,
        } => {
            store.add_place(&code, &area, &compound, &building, &unit)?;
            let key = gridsync_core::grid::place_key(&area, &compound, &building, &unit);
            Output::new(
                json!({ "code": code, "place": key }),
                format!("已添加 / added: {key}"),
            )
        }
    }
}

pub(crate) fn household(store: &mut Store, cmd: HouseholdCommand) -> anyhow::Result<Output> {
    match cmd {
        HouseholdCommand::Add(a) => household_add(store, a),
        HouseholdCommand::List(f) => {
            let rows = store.households(&place_filter(f))?;
            Output::new(&rows, household_table(&rows, false))
        }
        HouseholdCommand::Show { id } => Output::json(store.household(&id)?),
        HouseholdCommand::Edit(e) => household_edit(store, e),
    }
}

fn household_add(store: &mut Store, a: HouseholdAdd) -> anyhow::Result<Output> {
    let mut house = HouseFacts::default();
    set_house(&mut house, &a.house);
    let id = store.create_household(NewHousehold {
        grid: a.grid,
        place: Place {
            area: a.area,
            compound: a.compound,
            building: a.building,
            unit: a.unit,
            room: a.room,
        },
        house,
        holder: a.holder,
        tags: TagSet::of(a.tags),
        residents: Vec::new(),
    })?;
    Output::new(
        json!({ "id": id }),
        format!("已登记住户 / household recorded: {id}"),
    )
}

fn household_edit(store: &mut Store, e: HouseholdEdit) -> anyhow::Result<Output> {
    store.edit_household(&e.id, |f: &mut HouseholdFields| {
        let place = &mut f.place;
        for (value, target) in [
            (&e.area, &mut place.area),
            (&e.compound, &mut place.compound),
            (&e.building, &mut place.building),
            (&e.unit, &mut place.unit),
            (&e.room, &mut place.room),
        ] {
            if let Some(v) = value {
                target.clone_from(v);
            }
        }
        if e.no_holder {
            f.holder = None;
        } else if let Some(h) = &e.holder {
            f.holder = Some(h.clone());
        }
        for t in &e.tags {
            f.tags.insert(t.as_str());
        }
        for t in &e.untags {
            f.tags.remove(t);
        }
        set_house(&mut f.house, &e.house);
    })?;
    Output::new(json!({ "id": e.id }), format!("已保存 / saved: {}", e.id))
}

fn set_house(house: &mut HouseFacts, a: &HouseArgs) {
    if let Some(u) = &a.usage {
        house.usage = Some(code_of(
            u,
            HouseUse::all(),
            HouseUse::code,
            HouseUse::name_zh,
        ));
    }
    if let Some(o) = &a.ownership {
        house.ownership = Some(o.clone());
    }
    if let Some(m2) = a.floor_area {
        house.area_m2 = Some(m2);
    }
    if let Some(n) = a.occupants {
        house.occupants = Some(n);
    }
}

fn place_filter(f: PlaceFilterArgs) -> PlaceFilter {
    PlaceFilter {
        grid: f.grid,
        area: f.area,
        compound: f.compound,
        building: f.building,
        unit: f.unit,
    }
}

/// The address as people read it: 东片区 幸福小区 1号楼 1单元 101.
pub(crate) fn address(p: &Place) -> String {
    [&p.area, &p.compound, &p.building, &p.unit, &p.room]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn household_table(rows: &[HouseholdRow], holder_contact: bool) -> String {
    let mut header = vec![
        "住户编号 / id",
        "网格 / grid",
        "地址 / address",
        "包保责任人 / holder",
        "在册人数 / residents",
        "最近走访 / last visit",
    ];
    if holder_contact {
        header.push("包保联系 / holder contact");
    }
    let mut t = Table::new(&header);
    for r in rows {
        let mut cells = vec![
            r.id.clone(),
            r.grid.clone(),
            address(&r.place),
            or_dash(r.holder.as_deref()),
            r.residents.to_string(),
            time_or_never(r.last_visit),
        ];
        if holder_contact {
            cells.push(time_or_never(r.last_holder_contact));
        }
        t.row(cells);
    }
    format!(
        "{}共 {} 户 / {} households（北京时间 / UTC+8）\n",
        t.render(),
        rows.len(),
        rows.len()
    )
}

fn resident_table(rows: &[ResidentRow]) -> String {
    let mut t = Table::new(&[
        "姓名 / name",
        "身份证号 / ID number",
        "性别 / sex",
        "出生日期 / born",
        "电话 / phone",
        "居住状态 / status",
        "住户编号 / household",
        "居民编号 / resident",
    ]);
    for r in rows {
        t.row(vec![
            r.name.clone(),
            or_dash(r.id_number_masked.as_deref()),
            sex_label(r.sex.as_deref()),
            or_dash(r.birth_date.as_deref()),
            or_dash(r.phone_masked.as_deref()),
            status_label(r.status.as_deref()),
            r.household_id.clone(),
            r.resident_id.clone(),
        ]);
    }
    format!(
        "{}共 {} 人 / {} residents\n",
        t.render(),
        rows.len(),
        rows.len()
    )
}

pub(crate) fn resident(store: &mut Store, cmd: ResidentCommand) -> anyhow::Result<Output> {
    match cmd {
        ResidentCommand::Add {
            household_id,
            name,
            fields,
        } => {
            let mut r = Resident::named(name);
            set_resident(&mut r, &fields);
            let rid = store.add_resident(&household_id, r)?;
            Output::new(
                json!({ "household_id": household_id, "resident_id": rid }),
                format!("已登记居民 / resident added: {rid}"),
            )
        }
        ResidentCommand::Edit {
            household_id,
            resident_id,
            name,
            fields,
            untags,
            clear,
        } => {
            store.update_resident(&household_id, &resident_id, |r| {
                for field in &clear {
                    clear_field(r, *field);
                }
                if let Some(n) = &name {
                    r.name.clone_from(n);
                }
                set_resident(r, &fields);
                for t in &untags {
                    r.tags.remove(&tag_code(t));
                }
            })?;
            Output::new(
                json!({ "household_id": household_id, "resident_id": resident_id }),
                format!("已保存 / saved: {resident_id}"),
            )
        }
        ResidentCommand::Remove {
            household_id,
            resident_id,
            moved_out,
        } => {
            store.remove_resident(&household_id, &resident_id, moved_out)?;
            Output::new(
                json!({ "household_id": household_id, "resident_id": resident_id, "removed": true }),
                format!("已注销（记录保留，可用 resident restore 恢复） / removed: {resident_id}"),
            )
        }
        ResidentCommand::Restore {
            household_id,
            resident_id,
        } => {
            store.restore_resident(&household_id, &resident_id)?;
            Output::new(
                json!({ "household_id": household_id, "resident_id": resident_id, "removed": false }),
                format!("已恢复 / restored: {resident_id}"),
            )
        }
        ResidentCommand::Search { query } => {
            let rows = store.search_residents(&query)?;
            Output::new(&rows, resident_table(&rows))
        }
        ResidentCommand::Tagged { tag } => {
            let code = tag_code(&tag);
            AttentionTag::from_code(&code).map_err(|r| r.on("tag"))?;
            let rows = store.residents_with_tag(&code)?;
            let human = format!("{}：\n{}", tag_label(&code), resident_table(&rows));
            Output::new(&rows, human)
        }
    }
}

fn tag_code(t: &str) -> String {
    code_of(
        t,
        AttentionTag::all(),
        AttentionTag::code,
        AttentionTag::name_zh,
    )
}

/// Copy the flags given into `r`; tags are added.
fn set_resident(r: &mut Resident, f: &ResidentFields) {
    let set = |target: &mut Option<String>, value: &Option<String>| {
        if let Some(v) = value {
            *target = Some(v.clone());
        }
    };
    set(&mut r.id_number, &f.id_number);
    set(&mut r.sex, &f.sex);
    set(&mut r.birth_date, &f.birth_date);
    set(&mut r.phone, &f.phone);
    set(&mut r.moved_in, &f.moved_in);
    set(&mut r.note, &f.note);
    if let Some(e) = &f.ethnicity {
        r.ethnicity = Some(code_of(
            e,
            Ethnicity::all(),
            Ethnicity::code,
            Ethnicity::name_zh,
        ));
    }
    if let Some(rel) = &f.relation {
        r.relation = Some(code_of(
            rel,
            Relation::all(),
            Relation::code,
            Relation::name_zh,
        ));
    }
    if let Some(s) = &f.status {
        r.status = Some(code_of(
            s,
            ResidenceStatus::all(),
            ResidenceStatus::code,
            ResidenceStatus::name_zh,
        ));
    }
    for t in &f.tags {
        r.tags.insert(tag_code(t));
    }
}

fn clear_field(r: &mut Resident, field: ResidentField) {
    let target = match field {
        ResidentField::IdNumber => &mut r.id_number,
        ResidentField::Sex => &mut r.sex,
        ResidentField::BirthDate => &mut r.birth_date,
        ResidentField::Ethnicity => &mut r.ethnicity,
        ResidentField::Phone => &mut r.phone,
        ResidentField::Relation => &mut r.relation,
        ResidentField::Status => &mut r.status,
        ResidentField::MovedIn => &mut r.moved_in,
        ResidentField::MovedOut => &mut r.moved_out,
        ResidentField::Note => &mut r.note,
    };
    *target = None;
}

pub(crate) fn visit(store: &mut Store, cmd: VisitCommand) -> anyhow::Result<Output> {
    let VisitCommand::Add(v) = cmd;
    visit_add(store, v)
}

fn visit_add(store: &mut Store, v: VisitAdd) -> anyhow::Result<Output> {
    let method = code_of(
        &v.method,
        VisitMethod::all(),
        VisitMethod::code,
        VisitMethod::name_zh,
    );
    let visit = Visit {
        // Empty visitor and role: the core fills in the signed-in person.
        visitor: String::new(),
        role: String::new(),
        at: v.at.unwrap_or_else(|| store.clock().now_ms()),
        method: method.clone(),
        findings: v.findings,
        needs: v.needs,
        follow_up: v.follow_up,
        lat: v.lat,
        lon: v.lon,
        corrects: v.corrects,
    };
    let vid = store.add_visit(&v.household_id, visit)?;
    Output::new(
        json!({ "household_id": v.household_id, "visit_id": vid }),
        format!("已记录{} / visit recorded: {vid}", method_label(&method)),
    )
}

pub(crate) fn not_visited(store: &Store, days: u32) -> anyhow::Result<Output> {
    let rows = store.households_not_visited(days)?;
    let human = format!(
        "{days} 天内未走访的住户 / households not visited within {days} days:\n{}",
        household_table(&rows, false)
    );
    Output::new(&rows, human)
}

pub(crate) fn not_contacted(
    store: &Store,
    days: u32,
    holder: Option<&str>,
) -> anyhow::Result<Output> {
    let rows = store.households_not_contacted(days, holder)?;
    let human = format!(
        "{days} 天内包保责任人未联系的住户 / households their package-holder has not \
         contacted within {days} days:\n{}",
        household_table(&rows, true)
    );
    Output::new(&rows, human)
}

pub(crate) fn codes(only: Option<CodeTable>) -> anyhow::Result<Output> {
    let wanted = only.map(|t| match t {
        CodeTable::Sex => "sex",
        CodeTable::Ethnicity => "ethnicity",
        CodeTable::Relation => "relation",
        CodeTable::Status => "status",
        CodeTable::Tag => "tag",
        CodeTable::Method => "method",
        CodeTable::HouseUse => "house-use",
    });
    let tables: Vec<_> = code_tables()
        .into_iter()
        .filter(|(name, _)| wanted.is_none_or(|w| w == *name))
        .collect();
    let mut human = String::new();
    let mut json = serde_json::Map::new();
    for (name, rows) in tables {
        let mut t = Table::new(&["代码 / code", "名称 / name"]);
        for (code, zh) in &rows {
            t.row(vec![code.to_string(), zh.to_string()]);
        }
        human.push_str(&format!("[{name}]\n{}\n", t.render()));
        json.insert(
            name.to_string(),
            rows.iter()
                .map(|(c, zh)| json!({ "code": c, "name": zh }))
                .collect(),
        );
    }
    Output::new(json, human)
}
