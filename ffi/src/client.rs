//! [`Gridsync`]: the one object the app holds. It owns the device store
//! (behind a mutex: the core's `Store` is one writer, not `Sync`) and the
//! server address, and forwards every call to gridsync-core.
//!
//! Every method blocks: call it off the main thread. Calls from several
//! threads at once are safe. The store's mutex is held for local steps
//! only, never across a request: a sync (and `login`, `logout`, a photo
//! download) lets reads and edits through between its steps, and calls
//! its listener with the mutex released, so a listener may call back.
//! One sync at a time runs (a second waits for the first; one asked for
//! from the running sync's own listener fails at once with `Busy`). A
//! listener that throws is caught: see [`SyncListener`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

use gridsync_core::sync::{self as core_sync, Client, SyncOptions};
use gridsync_core::{OpenOptions, Store};

use crate::error::{GridsyncError, LastError, Result};
use crate::records::*;

/// Receives the progress of a sync. Implement it in Kotlin or Swift; it is
/// called on the thread that called `sync`, so post to the UI thread to
/// update a progress bar; it should return quickly (the sync waits for
/// it).
///
/// It is called with the store released: it may call back into the same
/// `Gridsync` (read a list, `status()`, save a visit, `cancelSync()`).
/// The calls that would wait for the running sync itself (`sync`,
/// `handOver`, `login`, `logout`) throw `GridsyncException.Busy` at once.
/// It must not wait for another thread that calls this object's `sync`.
///
/// If it throws, the exception is caught: the listener is not called again
/// in this sync, the sync runs to its end (its outcome is kept for
/// `status()`), and then `sync` throws `GridsyncException.Listener`
/// (naming the exception's class) instead of returning the report. A
/// failure of the sync itself is thrown in preference.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// Called when the sync starts, after each round trip, and when done.
    fn on_progress(&self, progress: SyncProgress) -> Result<()>;
}

/// Told what changed on the device after a local edit or a sync, so a
/// screen refreshes without polling. Called on the thread that made the
/// edit or ran the sync, after the store is released: it may call back
/// into the SDK (e.g. re-read a list).
///
/// If it throws, the exception is caught: after a sync, `sync` throws
/// `GridsyncException.Listener` (the sync's work is done and kept); after
/// a local edit the edit is saved and the call returns normally (throwing
/// would invite the app to save it twice), the failure only logged.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    /// Documents changed or removed, and which lists they touch.
    fn on_change(&self, change: ChangeSet) -> Result<()>;
}

/// The phone's gridsync: an encrypted local store of the grid's records,
/// and its sync with the server. Open one per store file and keep it for
/// the life of the app; share it between threads freely.
///
/// Every method blocks (disk, and network for `login` / `logout` /
/// `sync`): call it from a background thread (Kotlin `Dispatchers.IO`,
/// Swift a detached `Task` or a background queue), never the main thread.
#[derive(uniffi::Object)]
pub struct Gridsync {
    pub(crate) store: Mutex<Store>,
    /// Where the store file is and its key: a hand-over replaces the file
    /// with a new, empty one (under the key `rekey` last set).
    path: String,
    pub(crate) key: Mutex<String>,
    server_url: Mutex<Option<String>>,
    /// The running sync's cancel flag, if a sync runs.
    cancel: Mutex<Option<Arc<AtomicBool>>>,
    /// Told what each edit and sync changed.
    listener: Mutex<Option<Arc<dyn ChangeListener>>>,
    /// Held by the running sync (and `hand_over`, `login`, `logout`):
    /// one at a time.
    sync_turn: Mutex<()>,
    /// The thread of the running sync, to refuse at once what its own
    /// listener asks for that would wait for it.
    sync_thread: Mutex<Option<ThreadId>>,
}

/// The turn of one sync (or sign-in change); ends when dropped.
struct SyncTurn<'a> {
    owner: &'a Gridsync,
    _turn: MutexGuard<'a, ()>,
}

impl Drop for SyncTurn<'_> {
    fn drop(&mut self) {
        // Before the turn itself is released (fields drop after this).
        *lock(&self.owner.sync_thread) = None;
    }
}

impl std::fmt::Debug for Gridsync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gridsync").finish_non_exhaustive()
    }
}

/// Lock a mutex; a panic in an earlier call (a bug) does not make the
/// object unusable: the store's own transactions keep the file consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn days(field: &str, n: i32) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        GridsyncError::invalid(
            field,
            "天数不能为负数",
            "number of days must not be negative",
        )
    })
}

#[uniffi::export]
impl Gridsync {
    /// Open (or create) the encrypted store at `path` (a file in the app's
    /// private storage). `key` is the store's encryption key: 64 hex digits
    /// (32 random bytes, generated once: a raw key) or a passphrase of at
    /// least 12 characters, else `Invalid` (field `key`); keep it in
    /// Android Keystore / iOS Keychain (`rekey` changes it). `server_url`
    /// is the gridsync server (e.g. `https://grid.example.cn`); `null` uses
    /// the one last signed in to.
    ///
    /// Throws `WrongKey` when the file exists but `key` does not open it.
    #[uniffi::constructor]
    pub fn open(path: String, key: String, server_url: Option<String>) -> Result<Arc<Self>> {
        crate::privacy::check_key(&key)?;
        let store = open_store(&path, &key)?;
        Ok(Arc::new(Self {
            store: Mutex::new(store),
            path,
            key: Mutex::new(key),
            server_url: Mutex::new(server_url.filter(|u| !u.trim().is_empty())),
            cancel: Mutex::new(None),
            listener: Mutex::new(None),
            sync_turn: Mutex::new(()),
            sync_thread: Mutex::new(None),
        }))
    }

    /// Be told what changed after every local edit and sync (`null`:
    /// stop). One listener at a time; setting one replaces the last.
    pub fn set_change_listener(&self, listener: Option<Arc<dyn ChangeListener>>) {
        *lock(&self.listener) = listener;
    }

    /// This device's id.
    pub fn device_id(&self) -> String {
        lock(&self.store).device_id().to_string()
    }

    /// Change the server address (takes effect at the next call).
    pub fn set_server_url(&self, url: String) {
        *lock(&self.server_url) = Some(url);
    }

    // ---- signing in ------------------------------------------------------

    /// Sign in. Edits are attributed to this user from now on; the tokens
    /// are kept in the (encrypted) store. Throws `Unauthorized` for a wrong
    /// username or password, `Network` when the server cannot be reached.
    pub fn login(&self, username: String, password: String) -> Result<User> {
        let _turn = self.sync_turn()?;
        let client = self.client(&lock(&self.store))?;
        Ok(client.login(&mut &self.store, &username, &password)?.into())
    }

    /// Sign out: forget the tokens. The records stay on the device.
    pub fn logout(&self) -> Result<()> {
        let _turn = self.sync_turn()?;
        let client = self.client(&lock(&self.store))?;
        Ok(client.logout(&mut &self.store)?)
    }

    /// Hand this phone over to another worker: sync, and only when
    /// everything typed here is on the server (no change held back or
    /// refused, no photo left to upload) sign out and remove the old
    /// user's data: the store file is replaced by a new, empty one (a new
    /// device id, so the next worker signs in as a new device). Returns
    /// the final sync's report. Throws `Unsynced` (nothing removed) when
    /// something is not on the server, `Network` offline, `Unauthorized`
    /// when nobody is signed in.
    pub fn hand_over(&self) -> Result<SyncReport> {
        let _turn = self.sync_turn()?;
        if !lock(&self.store).author().is_signed_in() {
            return Err(GridsyncError::Unauthorized {
                zh: "请先登录：交接前须由原用户登录并同步".into(),
                en: "sign in first: the current user must sync before handing over".into(),
            });
        }
        let client = self.client(&lock(&self.store))?;
        let report = sync_recorded(&self.store, &client, None, &mut |_| {})?;
        if !report.complete || report.blobs_pending > 0 {
            let mut why = report.warnings.join("；");
            if report.blobs_pending > 0 {
                why = format!(
                    "{why}有{}张照片尚未上传 / {} photos are not uploaded",
                    report.blobs_pending, report.blobs_pending
                );
            }
            return Err(GridsyncError::Unsynced {
                zh: format!("本机还有未上传到服务器的内容，不能交接，未删除任何数据。{why}"),
                en: format!(
                    "something typed here is not on the server: nothing was removed. {why}"
                ),
            });
        }
        // The next worker signs in to the same server.
        if lock(&self.server_url).is_none() {
            *lock(&self.server_url) = lock(&self.store)
                .meta("auth.server")?
                .filter(|u| !u.is_empty());
        }
        client.logout(&mut &self.store)?;
        // Held from here to the new file: nobody reads the old one, or the
        // stand-in, meanwhile.
        let mut store = lock(&self.store);
        // Close the file before removing it.
        let old = std::mem::replace(&mut *store, Store::open_in_memory(OpenOptions::default())?);
        drop(old);
        let mut failed = None;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let f = format!("{}{suffix}", self.path);
            if let Err(e) = std::fs::remove_file(&f)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                failed = Some(e);
            }
        }
        *store = open_store(&self.path, &lock(&self.key))?;
        if let Some(e) = failed {
            return Err(GridsyncError::Storage {
                zh: "无法删除本机数据".into(),
                en: format!("cannot remove the local store: {e}"),
            });
        }
        Ok(report.into())
    }

    /// The signed-in user, if any.
    pub fn current_user(&self) -> Result<Option<User>> {
        let store = lock(&self.store);
        Ok(Client::user(&store)?.map(Into::into))
    }

    // ---- the territory ---------------------------------------------------

    /// The grids on this device (received by sync), with their places.
    pub fn grids(&self) -> Result<Vec<Grid>> {
        let mut store = lock(&self.store);
        let codes: Vec<String> = store
            .documents()?
            .into_iter()
            .filter(|(_, kind, _)| kind == gridsync_core::grid::KIND)
            .map(|(_, _, scope)| scope)
            .collect();
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            out.push(store.grid(&code)?.into());
        }
        out.sort_by(|a: &Grid, b| a.code.cmp(&b.code));
        Ok(out)
    }

    /// Add a place (area / compound / building / unit) to a grid.
    pub fn add_place(
        &self,
        grid: String,
        area: String,
        compound: String,
        building: String,
        unit: String,
    ) -> Result<()> {
        let r = lock(&self.store).add_place(&grid, &area, &compound, &building, &unit);
        self.edited(r)
    }

    // ---- the resident ledger ---------------------------------------------

    /// Record a new household (with the residents given). Returns its id.
    /// Throws `Invalid` naming the field (`place.room`,
    /// `residents[0].id_number`, …) when a value is refused.
    pub fn create_household(&self, household: NewHousehold) -> Result<String> {
        let r = lock(&self.store).create_household(household.into());
        self.edited(r)
    }

    /// A household with its residents and visits.
    pub fn household(&self, id: String) -> Result<Household> {
        Ok(lock(&self.store).household(&id)?.into())
    }

    /// Replace a household's own fields (place, house facts, holder, tags);
    /// only what differs is written. Start from `household(id)`'s values.
    pub fn update_household(&self, id: String, fields: HouseholdFields) -> Result<()> {
        let fields: gridsync_core::HouseholdFields = fields.into();
        let r = lock(&self.store).edit_household(&id, |f| *f = fields);
        self.edited(r)
    }

    /// Move a household to another grid (supervisors only; the server
    /// refuses it from anyone else).
    pub fn move_household(&self, id: String, grid: String) -> Result<()> {
        let r = lock(&self.store).move_household(&id, &grid);
        self.edited(r)
    }

    /// Add a resident to a household. Returns the resident's id. Throws
    /// `Invalid` (field `id_number`, `phone`, …) when a value is refused.
    pub fn add_resident(&self, household_id: String, resident: Resident) -> Result<String> {
        let r = lock(&self.store).add_resident(&household_id, resident.into());
        self.edited(r)
    }

    /// Replace a resident's fields with `resident`'s; only what differs is
    /// written, so edits of other fields on other phones are kept.
    pub fn update_resident(
        &self,
        household_id: String,
        resident_id: String,
        resident: Resident,
    ) -> Result<()> {
        let r = lock(&self.store)
            .update_resident(&household_id, &resident_id, |r| resident.apply_to(r));
        self.edited(r)
    }

    /// Take a resident off the ledger (moved away, deceased, entered by
    /// mistake); `moved_out` is the date, if known. Undo with
    /// `restore_resident`.
    pub fn remove_resident(
        &self,
        household_id: String,
        resident_id: String,
        moved_out: Option<String>,
    ) -> Result<()> {
        let r = lock(&self.store).remove_resident(&household_id, &resident_id, moved_out);
        self.edited(r)
    }

    /// Put a removed resident back on the ledger.
    pub fn restore_resident(&self, household_id: String, resident_id: String) -> Result<()> {
        let r = lock(&self.store).restore_resident(&household_id, &resident_id);
        self.edited(r)
    }

    /// Record a visit, call or message. An empty `visitor` / `role` is the
    /// signed-in user. Returns the visit's id.
    pub fn add_visit(&self, household_id: String, visit: Visit) -> Result<String> {
        let r = lock(&self.store).add_visit(&household_id, visit.into());
        self.edited(r)
    }

    // ---- lists -----------------------------------------------------------

    /// Households at a place (by grid / area / compound / building / unit),
    /// in address order.
    pub fn households(&self, filter: PlaceFilter) -> Result<Vec<HouseholdRow>> {
        let rows = lock(&self.store).households(&filter.into())?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Households with no contact of any kind within `days` days.
    pub fn households_not_visited(&self, days: i32) -> Result<Vec<HouseholdRow>> {
        let days = self::days("days", days)?;
        let rows = lock(&self.store).households_not_visited(days)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Households whose package-holder has not contacted them within `days`
    /// days; only `holder`'s households when given.
    pub fn households_not_contacted(
        &self,
        days: i32,
        holder: Option<String>,
    ) -> Result<Vec<HouseholdRow>> {
        let days = self::days("days", days)?;
        let rows = lock(&self.store).households_not_contacted(days, holder.as_deref())?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Residents carrying an attention tag (e.g. `living_alone_elderly`).
    pub fn residents_with_tag(&self, tag: String) -> Result<Vec<ResidentRow>> {
        let rows = lock(&self.store).residents_with_tag(&tag)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Search residents: by the last digits of the ID number (4 or more),
    /// otherwise by part of the name. At most 200.
    pub fn search_residents(&self, query: String) -> Result<Vec<ResidentRow>> {
        let rows = lock(&self.store).search_residents(&query)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    // ---- sync ------------------------------------------------------------

    /// Push this device's changes and pull everyone else's until caught up,
    /// reporting progress to `listener`. Safe to interrupt: `cancel_sync`,
    /// a dropped connection or a killed app lose nothing, and the next
    /// sync carries on. Throws `Network`, `Unauthorized`, `DeviceRevoked`,
    /// `Cancelled`, …; the outcome is also kept for `status`.
    ///
    /// Reads and edits made while it runs are not held up by the network
    /// (the store is taken for local steps only); an edit made meanwhile is
    /// pushed by this sync or the next. One sync runs at a time: a second
    /// waits for the first. `listener` (see `SyncListener`) is called with
    /// the store released; if it (or the change listener) throws, the sync
    /// still runs to its end and then this throws `Listener`.
    pub fn sync(&self, listener: Option<Arc<dyn SyncListener>>) -> Result<SyncReport> {
        let turn = self.sync_turn()?;
        let client = self.client(&lock(&self.store))?;
        let cancel = Arc::new(AtomicBool::new(false));
        *lock(&self.cancel) = Some(cancel.clone());
        let mut listener_failed: Option<GridsyncError> = None;
        let mut report = |p: &core_sync::Progress| {
            if listener_failed.is_some() {
                return;
            }
            if let Some(l) = &listener
                && let Err(e) = l.on_progress(p.into())
            {
                listener_failed = Some(thrown("SyncListener.onProgress", e));
            }
        };
        let result = sync_recorded(&self.store, &client, Some(&cancel), &mut report);
        *lock(&self.cancel) = None;
        drop(turn);
        // Pages stored before a failure changed documents too.
        let removed = result
            .as_ref()
            .map(|r| r.purged.clone())
            .unwrap_or_default();
        let change_failed = self.notify(true, removed);
        let report = result?;
        match listener_failed.or(change_failed) {
            Some(e) => Err(e),
            None => Ok(report.into()),
        }
    }

    /// Stop the running sync at its next step (it then throws `Cancelled`).
    /// Does nothing when no sync runs. Returns at once; may be called from
    /// any thread, the UI thread included.
    pub fn cancel_sync(&self) {
        if let Some(flag) = lock(&self.cancel).as_ref() {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Where this device stands: last success, last error, pending changes.
    pub fn status(&self) -> Result<SyncStatus> {
        let store = lock(&self.store);
        let mut status = core_sync::status(&store)?;
        let kept = store.meta(crate::error::LAST_ERROR)?;
        let last = status
            .last_error
            .take()
            .map(|core| LastError::read(kept.as_deref(), &core));
        Ok(SyncStatus {
            last_error: last,
            ..status.into()
        })
    }

    /// Local changes the server refused (out of scope, role forbids, …),
    /// newest first. Show them to the person; `discard_rejected` undoes them.
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChange>> {
        let rows = lock(&self.store).rejected_changes()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Undo the refused changes of a record on this device (later local
    /// edits that do not depend on them are kept). Returns how many changes
    /// were discarded.
    pub fn discard_rejected(&self, doc_id: String) -> Result<i64> {
        let n = lock(&self.store).discard_rejected(&doc_id);
        let n = self.edited(n)?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    // ---- conflicts, duplicates, history ----------------------------------

    /// Fields of a record edited at once on two or more phones ("changed by
    /// two people"), each with its competing values.
    pub fn conflicts(&self, doc_id: String) -> Result<Vec<Conflict>> {
        let rows = lock(&self.store).conflicts(&doc_id)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Settle a conflict by choosing value number `choice` of it.
    pub fn resolve_conflict(&self, doc_id: String, path: Vec<String>, choice: i32) -> Result<()> {
        let choice = usize::try_from(choice).map_err(|_| {
            GridsyncError::invalid("choice", "所选的值不存在", "no such value in the conflict")
        })?;
        let r = lock(&self.store).resolve_conflict(&doc_id, &path, choice);
        self.edited(r)
    }

    /// Households and residents that look recorded twice (offline on two
    /// phones).
    pub fn duplicate_suspects(&self) -> Result<Vec<DuplicateSuspect>> {
        let rows = lock(&self.store).duplicate_suspects()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Merge two households that are the same one; every resident and
    /// visit of both is kept. Returns the surviving household's id.
    pub fn merge_households(&self, a: String, b: String) -> Result<String> {
        let r = lock(&self.store).merge_households(&a, &b);
        self.edited(r)
    }

    /// Merge two entries of one household that are the same person.
    /// Returns the id of the entry kept.
    pub fn merge_residents(&self, household_id: String, a: String, b: String) -> Result<String> {
        let r = lock(&self.store).merge_residents(&household_id, &a, &b);
        self.edited(r)
    }

    /// Record that two households are not duplicates.
    pub fn dismiss_duplicate(&self, a: String, b: String) -> Result<()> {
        let r = lock(&self.store).dismiss_duplicate(&a, &b);
        self.edited(r)
    }

    /// Who changed what in a record, and when; oldest first.
    pub fn history(&self, doc_id: String) -> Result<Vec<HistoryEntry>> {
        let rows = lock(&self.store).history(&doc_id)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// Open the encrypted store at `path`; nothing is recorded in it while
/// nobody is signed in (`Unauthorized`).
fn open_store(path: &str, key: &str) -> Result<Store> {
    let mut store = Store::open_with(
        path,
        OpenOptions {
            key: Some(key.to_string()),
            ..OpenOptions::default()
        },
    )?;
    store.require_sign_in(true);
    store.track_changes(true);
    // The deployment's catalogue, as the last sync brought it.
    core_sync::rules::install_kept(&store)?;
    Ok(store)
}

impl Gridsync {
    /// The outcome of a local edit (made with the store's lock already
    /// released), telling the change listener what it changed.
    ///
    /// A change listener that throws does not undo or fail the edit (it is
    /// saved; failing would invite the app to save it again): it is logged.
    pub(crate) fn edited<T>(&self, result: gridsync_core::Result<T>) -> Result<T> {
        let value = result?;
        let _ = self.notify(false, Vec::new());
        Ok(value)
    }

    /// Tell the change listener, if any, what the writes since the last
    /// call changed (and `removed`). Takes the store's lock itself: call
    /// it with the lock released, so the listener may call back. Returns
    /// what the listener threw, if it did.
    pub(crate) fn notify(&self, from_sync: bool, removed: Vec<String>) -> Option<GridsyncError> {
        let Some(listener) = lock(&self.listener).clone() else {
            // Nobody listens: forget what was noted.
            let _ = lock(&self.store).take_changes();
            return None;
        };
        let changed = lock(&self.store).take_changes().unwrap_or_default();
        if changed.is_empty() && removed.is_empty() {
            return None;
        }
        listener
            .on_change(ChangeSet::new(changed, removed, from_sync))
            .err()
            .map(|e| thrown("ChangeListener.onChange", e))
    }

    /// The turn to sync (or change the sign-in): waits for a running sync
    /// on another thread; refused at once (`Busy`) on the running sync's
    /// own thread (from its listener), where waiting would never end.
    fn sync_turn(&self) -> Result<SyncTurn<'_>> {
        let me = std::thread::current().id();
        if *lock(&self.sync_thread) == Some(me) {
            return Err(GridsyncError::busy());
        }
        let turn = lock(&self.sync_turn);
        *lock(&self.sync_thread) = Some(me);
        Ok(SyncTurn {
            owner: self,
            _turn: turn,
        })
    }

    /// A client for the configured server, or the one last signed in to.
    pub(crate) fn client(&self, store: &Store) -> Result<Client> {
        let configured = lock(&self.server_url).clone();
        let url = match configured {
            Some(u) => u,
            None => store
                .meta("auth.server")?
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    GridsyncError::invalid(
                        "server_url",
                        "未设置服务器地址",
                        "no server address: pass server_url to open()",
                    )
                })?,
        };
        Ok(Client::new(&url)?)
    }
}

/// What a listener threw, as the `Listener` error `sync` throws, logged
/// by kind only (never its message: it may carry personal data).
fn thrown(listener: &str, e: GridsyncError) -> GridsyncError {
    let what = match e {
        GridsyncError::Listener { .. } => return log_thrown(listener, e),
        other => other.kind_name(),
    };
    log_thrown(listener, GridsyncError::listener(&what))
}

fn log_thrown(listener: &str, e: GridsyncError) -> GridsyncError {
    if let GridsyncError::Listener { en, .. } = &e {
        tracing::warn!(listener, error = %en, "a listener threw; caught, the sync goes on");
    }
    e
}

/// A sync whose error, if any, is kept typed for `status()` beside the
/// core's text of it (which tells whether the kept one is the last). The
/// store is taken for local steps only.
fn sync_recorded(
    store: &Mutex<Store>,
    client: &Client,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&core_sync::Progress),
) -> Result<core_sync::SyncReport> {
    // The typed form of the outcome is kept with the core's record of it,
    // in one hold of the store: `status` never reads one without the
    // other.
    core_sync::sync_keeping(
        &mut &*store,
        client,
        &SyncOptions::default(),
        cancel,
        progress,
        &mut |s, outcome| match outcome {
            Ok(_) => s.set_meta(crate::error::LAST_ERROR, ""),
            Err(e) => s.set_meta(
                crate::error::LAST_ERROR,
                &GridsyncError::from(e).to_last_error_json(&e.to_string()),
            ),
        },
    )
    .map_err(GridsyncError::from)
}
