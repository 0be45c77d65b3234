//! The records the app reads and writes: plain copies of the core's types
//! (`String`, `Option`, `Vec`, `i64`, `bool`, `f64`), and the conversions
//! between the two. Codes (sex, tags, visit method, …) stay strings; the
//! tables of valid codes are in [`crate::codes`].
//!
//! Times are milliseconds since the Unix epoch; dates are `YYYY-MM-DD`.

use gridsync_core::doc;
use gridsync_core::household as core_hh;
use gridsync_core::id_number::mask_phone;
use gridsync_core::store as core_store;
use gridsync_core::sync as core_sync;
use gridsync_core::tagset::TagSet;

/// Where a household lives: 片区 / 小区 / 楼栋 / 单元 / 室.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct Place {
    /// 片区 area (empty when the grid has no areas).
    #[uniffi(default)]
    pub area: String,
    /// 小区/院落 compound.
    #[uniffi(default)]
    pub compound: String,
    /// 楼栋 building.
    pub building: String,
    /// 单元 unit (empty for a building without units).
    #[uniffi(default)]
    pub unit: String,
    /// 室 room.
    pub room: String,
}

/// Facts about the dwelling.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct HouseFacts {
    /// Use of the dwelling: a `CodeTable.HOUSE_USE` code.
    #[uniffi(default)]
    pub usage: Option<String>,
    /// Ownership, free text (自有 / 租赁 / 公房 / 其他).
    #[uniffi(default)]
    pub ownership: Option<String>,
    /// Floor area, square metres.
    #[uniffi(default)]
    pub area_m2: Option<f64>,
    /// Number of people actually living there.
    #[uniffi(default)]
    pub occupants: Option<i64>,
}

/// A person in the resident ledger, as typed in a form.
///
/// Read from the SDK (`household`), `id_number` and `phone` are masked
/// (`110105********1234`, `138****1234`; the full values come from
/// `revealResident`). Written back (`updateResident`) a value still equal
/// to its mask keeps the real value: a record read, edited elsewhere and
/// saved loses nothing.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct Resident {
    /// 姓名.
    pub name: String,
    /// 公民身份号码 (18 characters; the check character is verified).
    #[uniffi(default)]
    pub id_number: Option<String>,
    /// Sex code (GB/T 2261.1); filled from the ID number when absent.
    #[uniffi(default)]
    pub sex: Option<String>,
    /// Birth date; filled from the ID number when absent.
    #[uniffi(default)]
    pub birth_date: Option<String>,
    /// Ethnicity code (GB 3304).
    #[uniffi(default)]
    pub ethnicity: Option<String>,
    /// Phone number.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Relation to the head of household (GB/T 4761).
    #[uniffi(default)]
    pub relation: Option<String>,
    /// Residence status code (registered / floating / …).
    #[uniffi(default)]
    pub status: Option<String>,
    /// Attention tag codes (living_alone_elderly, disabled, …).
    #[uniffi(default)]
    pub tags: Vec<String>,
    /// Moved in.
    #[uniffi(default)]
    pub moved_in: Option<String>,
    /// Moved out.
    #[uniffi(default)]
    pub moved_out: Option<String>,
    /// Free-text note.
    #[uniffi(default)]
    pub note: Option<String>,
}

/// A resident as stored in a household, with its id.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ResidentEntry {
    /// The resident's id within the household.
    pub id: String,
    /// The person.
    pub resident: Resident,
    /// Taken off the ledger (moved away, deceased, entered by mistake).
    pub removed: bool,
    /// Merged into another entry of the household (same person): its id.
    pub merged_into: Option<String>,
}

/// One contact with a household: a visit, a phone call, a message.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct Visit {
    /// When, ms since the epoch.
    pub at: i64,
    /// How: a `CodeTable.VISIT_METHOD` code (in_person, phone, message, other).
    pub method: String,
    /// What was found.
    #[uniffi(default)]
    pub findings: String,
    /// Needs and opinions collected (社情民意).
    #[uniffi(default)]
    pub needs: String,
    /// A follow-up is wanted.
    #[uniffi(default)]
    pub follow_up: bool,
    /// Latitude, WGS-84.
    #[uniffi(default)]
    pub lat: Option<f64>,
    /// Longitude, WGS-84.
    #[uniffi(default)]
    pub lon: Option<f64>,
    /// User id of the visitor; empty: the signed-in user.
    #[uniffi(default)]
    pub visitor: String,
    /// The visitor's role code; empty: the signed-in user's.
    #[uniffi(default)]
    pub role: String,
}

/// A visit as stored, with its id.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VisitEntry {
    /// The visit's id within the household.
    pub id: String,
    /// The visit.
    pub visit: Visit,
}

/// A household (户) with its residents and visits.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Household {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Where it is.
    pub place: Place,
    /// House facts.
    pub house: HouseFacts,
    /// Package-holder (包保责任人) user id.
    pub holder: Option<String>,
    /// Household tags.
    pub tags: Vec<String>,
    /// Every resident entry (removed and merged ones included, flagged).
    pub residents: Vec<ResidentEntry>,
    /// Visits, oldest first.
    pub visits: Vec<VisitEntry>,
    /// Who created it (user id).
    pub created_by: String,
    /// When, ms.
    pub created_at: i64,
    /// Merged into another household (a duplicate): the survivor's id.
    pub merged_into: Option<String>,
}

/// What the app gives to create a household.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct NewHousehold {
    /// Grid code (15 digits); the grid must be on this device (synced).
    pub grid: String,
    /// Place inside the grid.
    pub place: Place,
    /// House facts.
    #[uniffi(default)]
    pub house: HouseFacts,
    /// Package-holder user id.
    #[uniffi(default)]
    pub holder: Option<String>,
    /// Household tags.
    #[uniffi(default)]
    pub tags: Vec<String>,
    /// Residents recorded with the household.
    #[uniffi(default)]
    pub residents: Vec<Resident>,
}

/// A household's own editable fields (see `Gridsync.updateHousehold`).
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct HouseholdFields {
    /// Where it is (must stay inside the grid).
    pub place: Place,
    /// House facts.
    pub house: HouseFacts,
    /// Package-holder user id.
    pub holder: Option<String>,
    /// Household tags.
    pub tags: Vec<String>,
}

/// A household in a list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdRow {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Where it is.
    pub place: Place,
    /// Package-holder user id.
    pub holder: Option<String>,
    /// Residents currently in the ledger.
    pub residents: i64,
    /// Last contact of any kind, ms.
    pub last_visit: Option<i64>,
    /// Last contact by the package-holder, ms.
    pub last_holder_contact: Option<i64>,
}

/// A resident in a list: ID number and phone masked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ResidentRow {
    /// The household's id.
    pub household_id: String,
    /// The resident's id.
    pub resident_id: String,
    /// Name.
    pub name: String,
    /// ID number, masked (110105********1234).
    pub id_number_masked: Option<String>,
    /// Sex code.
    pub sex: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// Phone, masked (138****1234).
    pub phone_masked: Option<String>,
    /// Residence status code.
    pub status: Option<String>,
}

/// Which households to list: every part given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct PlaceFilter {
    /// Grid code.
    #[uniffi(default)]
    pub grid: Option<String>,
    /// Area.
    #[uniffi(default)]
    pub area: Option<String>,
    /// Compound.
    #[uniffi(default)]
    pub compound: Option<String>,
    /// Building.
    #[uniffi(default)]
    pub building: Option<String>,
    /// Unit.
    #[uniffi(default)]
    pub unit: Option<String>,
}

/// A place of a grid that households can be placed in.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GridPlace {
    /// Area.
    pub area: String,
    /// Compound.
    pub compound: String,
    /// Building.
    pub building: String,
    /// Unit.
    pub unit: String,
}

/// A grid (网格) on this device, with its places (for pickers).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Grid {
    /// Document id.
    pub id: String,
    /// 15-digit grid code.
    pub code: String,
    /// Name, e.g. 第一网格.
    pub name: String,
    /// Community (社区).
    pub community: String,
    /// Street (街道).
    pub street: String,
    /// Its places, in order.
    pub places: Vec<GridPlace>,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct User {
    /// User id (what edits are attributed to).
    pub id: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role code (grid_worker, package_holder, supervisor, admin).
    pub role: String,
}

/// What a sync is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Sending local changes.
    Push,
    /// Receiving documents.
    Pull,
    /// Finished.
    Done,
}

/// Progress of a sync, for a progress bar. The first event comes after
/// the server's first answer, with both totals known; then one at least
/// every 100 documents stored. Show `fraction`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncProgress {
    /// Phase.
    pub phase: SyncPhase,
    /// Local changes sent so far.
    pub changes_sent: i64,
    /// Local changes to send in all.
    pub changes_total: i64,
    /// Documents received so far.
    pub docs_received: i64,
    /// Documents to receive in all (grows if others keep editing).
    pub docs_total: i64,
    /// Bytes sent and received so far (photo uploads included).
    pub bytes_done: i64,
    /// Bytes expected in all (an estimate while pulling).
    pub bytes_total: i64,
    /// Done so far, 0.0 to 1.0: (changesSent + docsReceived) /
    /// (changesTotal + docsTotal), never lower than in an earlier event,
    /// 1.0 when done.
    pub fraction: f64,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Local changes the server stored.
    pub pushed: i64,
    /// Local changes the server refused (see `rejectedChanges`).
    pub rejected: i64,
    /// Documents received.
    pub docs_received: i64,
    /// Documents removed from this device (no longer readable).
    pub purged: Vec<String>,
    /// Bytes sent.
    pub bytes_sent: i64,
    /// Bytes received.
    pub bytes_received: i64,
    /// Round trips.
    pub rounds: i64,
    /// Changes sent again from this device's documents because the server
    /// might lack them (after a restore of the server), now on it.
    pub repushed: i64,
    /// Local changes still not on the server: it lacks changes they build
    /// on (tried again at the next sync).
    pub held_back: i64,
    /// Local changes recorded here under another person's sign-in: never
    /// sent under the current one (they wait until that person signs in
    /// here again; see `warnings`).
    pub held_other_user: i64,
    /// Photos the server now has for their reports.
    pub blobs_uploaded: i64,
    /// Photo bytes sent (a chunk sent again after a dropped connection
    /// counts twice).
    pub blob_bytes_sent: i64,
    /// Photos still waiting to be uploaded (the next sync resumes them).
    pub blobs_pending: i64,
    /// Refused changes waiting for the worker (all of them).
    pub refused_waiting: i64,
    /// Documents the server may still lack this user's changes of.
    pub docs_to_heal: i64,
    /// The server had been restored from an older backup: everything was
    /// received again and this device's changes pushed back.
    pub log_lost: bool,
    /// The server's clock minus this device's, ms, if the server said.
    pub clock_offset_ms: Option<i64>,
    /// This device's clock is more than 5 minutes off the server's: ask
    /// the worker to set it right.
    pub clock_warning: bool,
    /// Everything typed on this device is on the server. When false the
    /// sync did what it could: show `warnings`.
    pub complete: bool,
    /// What the worker should know, in Chinese (then English).
    pub warnings: Vec<String>,
}

/// Where this device stands with the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// When the last sync succeeded (ms), if ever.
    pub last_success: Option<i64>,
    /// The last sync's error, if it failed: its kind and its message in
    /// Chinese and in English.
    pub last_error: Option<crate::error::LastError>,
    /// Local changes waiting to be pushed.
    pub pending_changes: i64,
    /// Local changes the server refused, waiting for a person.
    pub rejected_changes: i64,
    /// The server this device signed in to.
    pub server: Option<String>,
    /// The signed-in user, if any.
    pub user: Option<User>,
    /// How old the oldest edit not on the server is, ms, if any.
    pub oldest_unsynced_age_ms: Option<i64>,
    /// Documents the server may lack this user's changes of.
    pub docs_to_heal: i64,
    /// The server's clock minus this device's at the last sync, ms.
    pub clock_offset_ms: Option<i64>,
    /// This device's clock is more than 5 minutes off the server's.
    pub clock_warning: bool,
}

/// One of the values standing in a conflict.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictValue {
    /// The value as text (a string as is, anything else as JSON); an ID
    /// number or phone masked.
    pub value: String,
    /// User id of whoever wrote it, when known.
    pub by: Option<String>,
    /// When it was written, ms.
    pub at: i64,
    /// The value shown until someone chooses.
    pub winner: bool,
}

/// A field edited at the same time on two or more devices.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Conflict {
    /// Path from the document root, e.g. `["residents", "<id>", "phone"]`.
    pub path: Vec<String>,
    /// The competing values; pass the index of one to `resolveConflict`.
    pub values: Vec<ConflictValue>,
}

/// What kind of duplicate is suspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DuplicateKind {
    /// Two households with the same grid and address.
    Household,
    /// Two entries with the same ID number in one household.
    ResidentInHousehold,
    /// The same ID number in two different households.
    ResidentAcrossHouseholds,
}

/// A pair of records that look like the same thing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DuplicateSuspect {
    /// What kind.
    pub kind: DuplicateKind,
    /// The two household ids (equal for a duplicate inside one household).
    pub households: Vec<String>,
    /// The two resident ids, for resident duplicates.
    pub residents: Option<Vec<String>>,
}

/// A local change the server refused.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedChange {
    /// Change hash.
    pub hash: String,
    /// Its document.
    pub doc_id: String,
    /// The server's code (`out_of_scope`, `role_forbids`, …).
    pub code: String,
    /// The server's reason, for the person.
    pub reason: String,
    /// When it was refused, ms.
    pub at: i64,
    /// What the change did (`add_visit`, …), empty if unknown.
    pub op: String,
    /// The same for the worker, in Chinese (`新增走访记录`, …).
    pub what: String,
    /// What the worker can do about it, in Chinese (then English).
    pub advice: String,
}

/// One field written by one change.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldChange {
    /// Path from the document root.
    pub path: Vec<String>,
    /// The new value as text (empty when deleted); an ID number or phone
    /// masked.
    pub value: String,
    /// The field was deleted.
    pub deleted: bool,
    /// The field in words, from the core's one label table (民族, 公民身份号码,
    /// 关注标签, …): what a screen shows instead of the key.
    pub label: String,
    /// The value in words: a code by its Chinese name (`01` → 汉族,
    /// `floating` → 流动, a tag → 独居老人), `true`/`false` as 是/否, an ID
    /// number or phone masked; otherwise `value`.
    pub text: String,
}

/// One change in a record's history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    /// Change hash.
    pub hash: String,
    /// User id of the author, when known.
    pub by: Option<String>,
    /// What the change did (`add_visit`, `update_resident`, …).
    pub op: Option<String>,
    /// The same in words, for the screen (新增走访记录, 修改居民信息, …;
    /// `codes(CodeTable.OPERATION)` lists them all).
    pub op_name: Option<String>,
    /// When, ms.
    pub at: i64,
    /// The fields it wrote.
    pub fields: Vec<FieldChange>,
}

// ---- conversions ----------------------------------------------------------

fn tags(t: TagSet) -> Vec<String> {
    t.0.into_iter().collect()
}

fn tagset(t: Vec<String>) -> TagSet {
    TagSet(t.into_iter().collect())
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A JSON value as the text a person reads.
fn text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl From<core_hh::Place> for Place {
    fn from(p: core_hh::Place) -> Self {
        Self {
            area: p.area,
            compound: p.compound,
            building: p.building,
            unit: p.unit,
            room: p.room,
        }
    }
}

impl From<Place> for core_hh::Place {
    fn from(p: Place) -> Self {
        Self {
            area: p.area,
            compound: p.compound,
            building: p.building,
            unit: p.unit,
            room: p.room,
        }
    }
}

impl From<core_hh::HouseFacts> for HouseFacts {
    fn from(h: core_hh::HouseFacts) -> Self {
        Self {
            usage: h.usage,
            ownership: h.ownership,
            area_m2: h.area_m2,
            occupants: h.occupants.map(i64::from),
        }
    }
}

impl From<HouseFacts> for core_hh::HouseFacts {
    fn from(h: HouseFacts) -> Self {
        Self {
            usage: h.usage,
            ownership: h.ownership,
            area_m2: h.area_m2,
            // Out of range: saturate, so the core's range check refuses it.
            occupants: h
                .occupants
                .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        }
    }
}

// ---- masking: what a screen shows ------------------------------------------

/// An ID number as screens show it: the core's rule (first 6, eight `*`,
/// last 4; a malformed one all `*`).
fn masked_id(s: &str) -> String {
    core_hh::Resident {
        id_number: Some(s.to_owned()),
        ..core_hh::Resident::default()
    }
    .id_number_masked()
    .unwrap_or_default()
}

/// A phone as screens show it: the core's rule (`138****1234`).
fn masked_phone(s: &str) -> String {
    mask_phone(s)
}

/// What a form sends back for a masked field: its mask unchanged means
/// "keep the real value"; anything else is the new value.
fn kept(
    given: Option<String>,
    current: &Option<String>,
    mask: fn(&str) -> String,
) -> Option<String> {
    match (&given, current) {
        (Some(g), Some(c)) if *g == mask(c) => current.clone(),
        _ => given,
    }
}

/// A field's value as text for a screen, with ID numbers and phones (by
/// the last element of its path, or as keys inside an object) masked.
/// A history field's label and value in words (the core's
/// `field_in_words`), ID numbers and phones masked.
fn in_words(path: &[String], v: &serde_json::Value) -> (String, String) {
    let (label, name) = gridsync_core::codes::field_in_words(path, v);
    (label, name.unwrap_or_else(|| shown(path, v.clone())))
}

fn shown(path: &[String], v: serde_json::Value) -> String {
    text(mask_value(path.last().map(String::as_str), v))
}

fn mask_value(key: Option<&str>, v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match (key, v) {
        (Some("id_number"), Value::String(s)) => Value::String(masked_id(&s)),
        (Some("phone"), Value::String(s)) => Value::String(masked_phone(&s)),
        (_, Value::Object(map)) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = mask_value(Some(&k), v);
                    (k, v)
                })
                .collect(),
        ),
        (_, v) => v,
    }
}

impl From<core_hh::Resident> for Resident {
    /// For display: ID number and phone masked.
    fn from(r: core_hh::Resident) -> Self {
        Self {
            id_number: r.id_number_masked(),
            phone: r.phone.as_deref().map(masked_phone),
            name: r.name,
            sex: r.sex,
            birth_date: r.birth_date,
            ethnicity: r.ethnicity,
            relation: r.relation,
            status: r.status,
            tags: tags(r.tags),
            moved_in: r.moved_in,
            moved_out: r.moved_out,
            note: r.note,
        }
    }
}

impl Resident {
    /// Write the form's fields over `r`, keeping its ledger flags; an ID
    /// number or phone equal to the mask of `r`'s keeps `r`'s.
    pub(crate) fn apply_to(self, r: &mut core_hh::Resident) {
        r.name = self.name;
        r.id_number = kept(self.id_number, &r.id_number, masked_id);
        r.sex = self.sex;
        r.birth_date = self.birth_date;
        r.ethnicity = self.ethnicity;
        r.phone = kept(self.phone, &r.phone, masked_phone);
        r.relation = self.relation;
        r.status = self.status;
        r.tags = tagset(self.tags);
        r.moved_in = self.moved_in;
        r.moved_out = self.moved_out;
        r.note = self.note;
    }
}

impl From<Resident> for core_hh::Resident {
    fn from(r: Resident) -> Self {
        let mut out = core_hh::Resident::default();
        r.apply_to(&mut out);
        out
    }
}

impl From<core_hh::Visit> for Visit {
    fn from(v: core_hh::Visit) -> Self {
        Self {
            at: v.at,
            method: v.method,
            findings: v.findings,
            needs: v.needs,
            follow_up: v.follow_up,
            lat: v.lat,
            lon: v.lon,
            visitor: v.visitor,
            role: v.role,
        }
    }
}

impl From<Visit> for core_hh::Visit {
    fn from(v: Visit) -> Self {
        Self {
            visitor: v.visitor,
            role: v.role,
            at: v.at,
            method: v.method,
            findings: v.findings,
            needs: v.needs,
            follow_up: v.follow_up,
            lat: v.lat,
            lon: v.lon,
            corrects: None,
        }
    }
}

impl From<core_hh::Household> for Household {
    fn from(h: core_hh::Household) -> Self {
        let visits = h
            .visits_in_order()
            .into_iter()
            .map(|(id, v)| VisitEntry {
                id: id.to_string(),
                visit: v.clone().into(),
            })
            .collect();
        Self {
            id: h.id,
            grid: h.grid,
            place: h.place.into(),
            house: h.house.into(),
            holder: h.holder,
            tags: tags(h.tags),
            residents: h
                .residents
                .into_iter()
                .map(|(id, r)| ResidentEntry {
                    id,
                    removed: r.removed,
                    merged_into: r.merged_into.clone(),
                    resident: r.into(),
                })
                .collect(),
            visits,
            created_by: h.created_by,
            created_at: h.created_at,
            merged_into: h.merged_into,
        }
    }
}

impl From<NewHousehold> for core_hh::NewHousehold {
    fn from(n: NewHousehold) -> Self {
        Self {
            grid: n.grid,
            place: n.place.into(),
            house: n.house.into(),
            holder: n.holder,
            tags: tagset(n.tags),
            residents: n.residents.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<gridsync_core::HouseholdFields> for HouseholdFields {
    fn from(f: gridsync_core::HouseholdFields) -> Self {
        Self {
            place: f.place.into(),
            house: f.house.into(),
            holder: f.holder,
            tags: tags(f.tags),
        }
    }
}

impl From<HouseholdFields> for gridsync_core::HouseholdFields {
    fn from(f: HouseholdFields) -> Self {
        Self {
            place: f.place.into(),
            house: f.house.into(),
            holder: f.holder,
            tags: tagset(f.tags),
        }
    }
}

impl From<core_store::HouseholdRow> for HouseholdRow {
    fn from(r: core_store::HouseholdRow) -> Self {
        Self {
            id: r.id,
            grid: r.grid,
            place: r.place.into(),
            holder: r.holder,
            residents: i64::from(r.residents),
            last_visit: r.last_visit,
            last_holder_contact: r.last_holder_contact,
        }
    }
}

impl From<core_store::ResidentRow> for ResidentRow {
    fn from(r: core_store::ResidentRow) -> Self {
        Self {
            household_id: r.household_id,
            resident_id: r.resident_id,
            name: r.name,
            id_number_masked: r.id_number_masked,
            sex: r.sex,
            birth_date: r.birth_date,
            phone_masked: r.phone_masked,
            status: r.status,
        }
    }
}

impl From<PlaceFilter> for core_store::PlaceFilter {
    fn from(f: PlaceFilter) -> Self {
        Self {
            grid: f.grid,
            area: f.area,
            compound: f.compound,
            building: f.building,
            unit: f.unit,
        }
    }
}

impl From<gridsync_core::grid::Grid> for Grid {
    fn from(g: gridsync_core::grid::Grid) -> Self {
        let places = g
            .places
            .iter()
            .map(|key| {
                // Place keys are `area/compound/building/unit`; names never
                // contain '/' (refused when a place is added).
                let mut parts = key.splitn(4, '/').map(str::to_string);
                let mut next = || parts.next().unwrap_or_default();
                GridPlace {
                    area: next(),
                    compound: next(),
                    building: next(),
                    unit: next(),
                }
            })
            .collect();
        Self {
            id: g.id,
            code: g.grid,
            name: g.name,
            community: g.community,
            street: g.street,
            places,
        }
    }
}

impl From<core_sync::wire::User> for User {
    fn from(u: core_sync::wire::User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
        }
    }
}

impl From<&core_sync::Progress> for SyncProgress {
    fn from(p: &core_sync::Progress) -> Self {
        Self {
            phase: match p.phase {
                core_sync::Phase::Push => SyncPhase::Push,
                core_sync::Phase::Pull => SyncPhase::Pull,
                core_sync::Phase::Done => SyncPhase::Done,
            },
            changes_sent: count(p.changes_sent),
            changes_total: count(p.changes_total),
            docs_received: count(p.docs_received),
            docs_total: count(p.docs_total),
            bytes_done: count(p.bytes_done),
            bytes_total: count(p.bytes_total),
            fraction: p.fraction,
        }
    }
}

impl From<core_sync::SyncReport> for SyncReport {
    fn from(r: core_sync::SyncReport) -> Self {
        Self {
            pushed: count(r.pushed),
            rejected: count(r.rejected),
            docs_received: count(r.docs_received),
            purged: r.purged,
            bytes_sent: count(r.bytes_sent),
            bytes_received: count(r.bytes_received),
            rounds: i64::from(r.rounds),
            repushed: count(r.repushed),
            held_back: count(r.held_back),
            held_other_user: count(r.held_other_user),
            blobs_uploaded: count(r.blobs_uploaded),
            blob_bytes_sent: count(r.blob_bytes_sent),
            blobs_pending: count(r.blobs_pending),
            refused_waiting: count(r.refused_waiting),
            docs_to_heal: count(r.docs_to_heal),
            log_lost: r.log_lost,
            clock_offset_ms: r.clock_offset_ms,
            clock_warning: r.clock_warning,
            complete: r.complete,
            warnings: r.warnings,
        }
    }
}

impl From<core_sync::Status> for SyncStatus {
    fn from(s: core_sync::Status) -> Self {
        Self {
            last_success: s.last_success,
            // Typed by `Gridsync::status`, from what the FFI kept.
            last_error: None,
            pending_changes: count(s.pending_changes),
            rejected_changes: count(s.rejected_changes),
            server: s.server.filter(|s| !s.is_empty()),
            user: s.user.map(Into::into),
            oldest_unsynced_age_ms: s.oldest_unsynced_age_ms,
            docs_to_heal: count(s.docs_to_heal),
            clock_offset_ms: s.clock_offset_ms,
            clock_warning: s.clock_warning,
        }
    }
}

impl From<doc::Conflict> for Conflict {
    fn from(c: doc::Conflict) -> Self {
        let values = c
            .values
            .into_iter()
            .map(|v| ConflictValue {
                value: shown(&c.path, v.value),
                by: v.by,
                at: v.at,
                winner: v.winner,
            })
            .collect();
        Self {
            path: c.path,
            values,
        }
    }
}

impl From<core_store::DuplicateSuspect> for DuplicateSuspect {
    fn from(d: core_store::DuplicateSuspect) -> Self {
        Self {
            kind: match d.kind {
                core_store::DuplicateKind::Household => DuplicateKind::Household,
                core_store::DuplicateKind::ResidentInHousehold => {
                    DuplicateKind::ResidentInHousehold
                }
                core_store::DuplicateKind::ResidentAcrossHouseholds => {
                    DuplicateKind::ResidentAcrossHouseholds
                }
            },
            households: d.households.to_vec(),
            residents: d.residents.map(|r| r.to_vec()),
        }
    }
}

impl From<core_store::RejectedChange> for RejectedChange {
    fn from(r: core_store::RejectedChange) -> Self {
        Self {
            hash: r.hash,
            doc_id: r.doc_id,
            code: r.code,
            reason: r.reason,
            at: r.at,
            op: r.op,
            what: r.what,
            advice: r.advice,
        }
    }
}

impl From<doc::HistoryEntry> for HistoryEntry {
    fn from(h: doc::HistoryEntry) -> Self {
        Self {
            hash: h.hash,
            by: h.by,
            op_name: h.op.as_deref().map(gridsync_core::store::op_name),
            op: h.op,
            at: h.at,
            fields: h
                .fields
                .into_iter()
                .map(|f| {
                    let (label, text) = in_words(&f.path, &f.value);
                    FieldChange {
                        value: shown(&f.path, f.value),
                        path: f.path,
                        deleted: f.deleted,
                        label,
                        text,
                    }
                })
                .collect(),
        }
    }
}

/// What a local edit or a sync changed on this device, for
/// `ChangeListener`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChangeSet {
    /// Ids of the documents changed (households, grids, reports), sorted.
    pub docs: Vec<String>,
    /// Ids of the documents removed from this device (no longer readable).
    pub removed: Vec<String>,
    /// Households changed or removed: refresh household lists, coverage
    /// (not visited, not contacted), tag lists and searches.
    pub households: bool,
    /// Grids changed: refresh the place pickers (`grids()`).
    pub grids: bool,
    /// Issue reports changed or removed: refresh the report lists and an
    /// open `report(id)`.
    pub reports: bool,
    /// Made by a sync (else a local edit on this device).
    pub from_sync: bool,
}

impl ChangeSet {
    /// From the store's changed documents (id, kind; no kind: gone).
    pub(crate) fn new(
        changed: Vec<(String, Option<String>)>,
        removed: Vec<String>,
        from_sync: bool,
    ) -> Self {
        let gone = !removed.is_empty() || changed.iter().any(|(_, k)| k.is_none());
        let any = |kind: &str| gone || changed.iter().any(|(_, k)| k.as_deref() == Some(kind));
        Self {
            households: any(gridsync_core::household::KIND),
            grids: any(gridsync_core::grid::KIND),
            reports: any(gridsync_core::issue::KIND),
            docs: changed.into_iter().map(|(id, _)| id).collect(),
            removed,
            from_sync,
        }
    }
}
