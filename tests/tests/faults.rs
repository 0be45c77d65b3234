//! Faults of the server's machine, on the real server process: the log's
//! disk full (standard error on /dev/full: every request still answered,
//! the dropped lines counted), the data disk full (a small tmpfs: a push
//! answers 507 `storage_full`, the phone says 服务器存储空间不足 and keeps
//! its edits, `/healthz` says degraded, and everything goes through once
//! space is back); and a phone's power cut taking back what a sync wrote
//! (sent again, stored once).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gridsync_core::household::NewHousehold;
use gridsync_core::sync::{Client, SyncOptions};
use gridsync_core::{OpenOptions, Store};

use crate::*;

/// One community, grid G1, and worker1 and supervisor, on `server`; no
/// file of it left in the data directory.
pub(crate) fn seed(server: &TestServer) {
    server.import_territory(&serde_json::json!({
        "streets": [{"code": "110105001", "name": "建国门街道", "communities": [{
            "code": COMMUNITY, "name": "幸福社区",
            "grids": [{"code": G1, "name": "第一网格"}]
        }]}]
    }));
    std::fs::remove_file(server.data.path().join("territory.json")).unwrap();
    server.add_user("worker1", "grid_worker", &[G1], None, PASSWORD);
    server.add_user("supervisor", "supervisor", &[], Some(COMMUNITY), PASSWORD);
}

/// `/healthz` of a running server.
pub(crate) fn healthz(server: &TestServer) -> serde_json::Value {
    let resp = reqwest::blocking::get(format!("{}/healthz", server.url)).unwrap();
    assert_eq!(resp.status(), 200, "/healthz answers while the server runs");
    resp.json().unwrap()
}

/// A phone signed in to `url` as `user`, its store in `dir`.
pub(crate) fn phone(url: &str, user: &str, dir: &Path) -> (Store, Client) {
    let mut store =
        Store::open_with(dir.join(format!("{user}.sqlite3")), OpenOptions::default()).unwrap();
    let client = Client::new(url).unwrap();
    client.login(&mut store, user, PASSWORD).unwrap();
    (store, client)
}

fn sync(
    store: &mut Store,
    client: &Client,
) -> gridsync_core::Result<gridsync_core::sync::SyncReport> {
    gridsync_core::sync::sync(store, client, &SyncOptions::default(), None, &mut |_| {})
}

fn new_household(store: &mut Store, room: &str) -> String {
    store
        .create_household(NewHousehold {
            grid: G1.into(),
            place: place(1, room),
            residents: vec![gridsync_core::household::Resident::named("张三")],
            ..NewHousehold::default()
        })
        .unwrap()
}

/// The log's disk is full: standard error is /dev/full. Every request is
/// still answered (a sign-in, a push and a pull, pages), the server runs
/// on, and `/healthz` counts the lines it could not write. (Before, the
/// first log line panicked: `serve 2>/dev/full` exited 101.)
/// worker1's phone, its store in `dir`, synced, then a household recorded
/// offline (with its place): its id.
fn worker_with_a_household(server: &TestServer, dir: &Path) -> (Store, Client, String) {
    let (mut store, client) = phone(&server.url, "worker1", dir);
    sync(&mut store, &client).unwrap();
    store
        .add_place(G1, "", "幸福小区", "1号楼", "1单元")
        .unwrap();
    let id = new_household(&mut store, "101");
    (store, client, id)
}

#[test]
fn a_full_log_disk_costs_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Debug: a log line for every request, and many more.
    let mut server = TestServer::options()
        .data_dir(&data)
        .stderr_to(Path::new("/dev/full"))
        .env(&[("GRIDSYNC_LOG", "debug")])
        .start();
    seed(&server);
    let (mut store, client, id) = worker_with_a_household(&server, dir.path());
    let report = sync(&mut store, &client).unwrap();
    assert!(report.pushed >= 2, "{report:?}");
    assert!(store.outbox(100).unwrap().is_empty());

    // The supervisor's phone gets it.
    let (mut sup, sup_client) = phone(&server.url, "supervisor", dir.path());
    sync(&mut sup, &sup_client).unwrap();
    assert!(sup.household(&id).is_ok());

    // A bad request is answered too (its error logged, or not).
    let resp = reqwest::blocking::Client::new()
        .get(format!("{}/v1/me", server.url))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);

    assert!(server.alive(), "the server runs on");
    let health = healthz(&server);
    assert!(
        health["log"]["write_errors"].as_u64().unwrap() > 0,
        "{health}"
    );
    assert_eq!(health["log"]["status"], "failing", "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
}

/// A tmpfs of `size` mounted on `at` while it lives.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None where mounting is not allowed (not root, no CAP_SYS_ADMIN).
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fill the file system of `path` to the last byte with one file.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    loop {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    // The last partial block too.
    while f.write_all(&[0x5a]).is_ok() {}
    let _ = f.sync_all();
}

/// The data disk is full (a real one: a tmpfs filled to the last byte).
/// A push answers 507 `storage_full`, not a generic 500: the phone keeps
/// its edits and says 服务器存储空间不足 instead of a network failure, and
/// `/healthz` reports storage full. Once space is back the same phone
/// pushes everything and the supervisor sees it; `/healthz` says ok.
#[test]
fn a_full_data_disk_answers_storage_full_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("mnt"), "24m") else {
        eprintln!("skipped: mounting a tmpfs is not allowed here (needs root)");
        return;
    };
    let data = mnt.0.join("data");
    let mut server = TestServer::options()
        .data_dir(&data)
        .serve_args(&["--min-free-disk-mb", "1"])
        .start();
    seed(&server);
    let phones = tempfile::tempdir().unwrap();
    let (mut store, client) = phone(&server.url, "worker1", phones.path());
    sync(&mut store, &client).unwrap();
    store
        .add_place(G1, "", "幸福小区", "1号楼", "1单元")
        .unwrap();
    sync(&mut store, &client).unwrap();
    assert_eq!(healthz(&server)["status"], "ok");

    let filler = mnt.0.join("filler");
    fill(&filler);
    // Households until a push needs a new block of the disk (the first
    // may still fit in the WAL's space).
    let mut ids = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        for j in 0..10 {
            ids.push(new_household(&mut store, &format!("{}", 100 + i * 10 + j)));
        }
        if let Err(e) = sync(&mut store, &client) {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("a push on a full disk is refused");
    match &refused {
        gridsync_core::Error::Server {
            status,
            code,
            message,
        } => {
            assert_eq!((*status, code.as_str()), (507, "storage_full"), "{refused}");
            assert!(message.starts_with("服务器存储空间不足"), "{message}");
        }
        other => panic!("expected storage_full, got {other:?}"),
    }
    assert!(refused.to_string().contains("服务器存储空间不足"));
    assert!(!store.outbox(10_000).unwrap().is_empty(), "edits kept");
    assert!(server.alive());
    let health = healthz(&server);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["storage"]["status"], "full", "{health}");
    assert!(health["storage"]["full_errors"].as_u64().unwrap() >= 1);

    // Space is back: everything goes through.
    std::fs::remove_file(&filler).unwrap();
    let start = Instant::now();
    loop {
        match sync(&mut store, &client) {
            Ok(r) if store.outbox(10_000).unwrap().is_empty() => {
                let _ = r;
                break;
            }
            other => assert!(
                start.elapsed() < Duration::from_secs(30),
                "not recovered: {other:?}"
            ),
        }
    }
    let (mut sup, sup_client) = phone(&server.url, "supervisor", phones.path());
    sync(&mut sup, &sup_client).unwrap();
    for id in &ids {
        assert!(sup.household(id).is_ok(), "{id} reached the supervisor");
    }
    let health = healthz(&server);
    assert_eq!(health["storage"]["status"], "ok", "{health}");
    drop(server);
}

/// A photo whose upload meets a full data disk: the chunk is answered 507
/// `storage_full` (`ENOSPC` writing the blob file), counted by `/healthz`;
/// the phone keeps the photo and uploads the rest once space is back.
#[test]
fn a_photo_meeting_a_full_disk_waits_for_space() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(&dir.path().join("mnt"), "24m") else {
        eprintln!("skipped: mounting a tmpfs is not allowed here (needs root)");
        return;
    };
    let data = mnt.0.join("data");
    let server = TestServer::options()
        .data_dir(&data)
        .serve_args(&["--min-free-disk-mb", "1"])
        .start();
    seed(&server);
    let phones = tempfile::tempdir().unwrap();
    let (mut store, client) = phone(&server.url, "worker1", phones.path());
    sync(&mut store, &client).unwrap();
    let issue = store
        .report_issue(gridsync_core::issue::NewIssue {
            grid: G1.into(),
            category: "safety".into(),
            subtype: gridsync_core::issue::catalogue::category("safety")
                .unwrap()
                .subtypes[0]
                .code
                .into(),
            description: "楼道堆放杂物".into(),
            source: "patrol".into(),
            ..gridsync_core::issue::NewIssue::default()
        })
        .unwrap();
    // Noise does not compress: a photo of some MiB.
    let mut state = 12_345u32;
    let img = image::RgbImage::from_fn(1400, 1000, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut photo = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut photo, 95)
        .encode_image(&img)
        .unwrap();
    let size = photo.len() as u64;
    let hash = store.attach_photo(&issue, &photo).unwrap();

    // The report reaches the server; its photo only half.
    let cancel = AtomicBool::new(false);
    let result = gridsync_core::sync::sync(
        &mut store,
        &client,
        &SyncOptions::default(),
        Some(&cancel),
        &mut |p| {
            let left = p.bytes_total.saturating_sub(p.bytes_done);
            if left > 0 && left <= size / 2 {
                cancel.store(true, Ordering::SeqCst);
            }
        },
    );
    assert!(
        matches!(result, Err(gridsync_core::Error::Cancelled)),
        "{result:?}"
    );

    let filler = mnt.0.join("filler");
    fill(&filler);
    let before = healthz(&server)["storage"]["full_errors"].as_u64().unwrap();
    let result = sync(&mut store, &client);
    match &result {
        // The photo waits; the rest of the sync went through.
        Ok(report) => assert_eq!(report.blobs_pending, 1, "{report:?}"),
        // Or something else of the sync needed space first.
        Err(gridsync_core::Error::Server { status: 507, .. }) => {}
        Err(e) => panic!("expected storage_full, got {e:?}"),
    }
    let health = healthz(&server);
    assert!(
        health["storage"]["full_errors"].as_u64().unwrap() > before,
        "{health}"
    );
    assert_eq!(health["storage"]["status"], "full", "{health}");
    assert!(store.blob(&hash).unwrap().is_some(), "the phone keeps it");

    std::fs::remove_file(&filler).unwrap();
    let report = sync(&mut store, &client).unwrap();
    assert_eq!(report.blobs_pending, 0, "{report:?}");
    let head = reqwest::blocking::Client::new()
        .head(format!("{}/v1/blobs/{hash}", server.url))
        .bearer_auth(store.meta("auth.access_token").unwrap().unwrap())
        .send()
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["upload-offset"].to_str().unwrap(),
        size.to_string()
    );
}

/// A phone commits what the server said (a push's settlement, a pulled
/// page and its cursors) without waiting for the disk: a power cut may
/// take that back. The phone is then as it was before the sync, and the
/// next sync sends the same changes again: the server counts them stored,
/// nothing is doubled, the outbox empties.
#[test]
fn a_sync_taken_back_by_a_power_cut_is_sent_again_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::options()
        .data_dir(&dir.path().join("data"))
        .start();
    seed(&server);
    let file = dir.path().join("worker1.sqlite3");
    let (store, client, id) = worker_with_a_household(&server, dir.path());
    let pending = store.pending_changes().unwrap();
    // The file as the edits left it (closed: its log folded in).
    drop(store);
    let before = dir.path().join("before.sqlite3");
    std::fs::copy(&file, &before).unwrap();
    let mut store = Store::open_with(&file, OpenOptions::default()).unwrap();
    assert_eq!(sync(&mut store, &client).unwrap().pushed, pending);
    let synced = store.household(&id).unwrap();
    // The power cut: everything the sync wrote is gone.
    drop(store);
    for end in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{end}", file.display()));
    }
    std::fs::copy(&before, &file).unwrap();
    let mut store = Store::open_with(&file, OpenOptions::default()).unwrap();
    assert_eq!(store.pending_changes().unwrap(), pending);
    let again = sync(&mut store, &client).unwrap();
    assert_eq!(again.pushed, pending, "{again:?}");
    assert!(store.outbox(100).unwrap().is_empty());
    assert_eq!(store.household(&id).unwrap(), synced);
    // The supervisor's phone gets it once.
    let (mut sup, sup_client) = phone(&server.url, "supervisor", dir.path());
    sync(&mut sup, &sup_client).unwrap();
    assert_eq!(sup.household(&id).unwrap(), synced);
    assert_eq!(
        sup.doc_changes(&id).unwrap().len(),
        store.doc_changes(&id).unwrap().len()
    );
}
