//! End-to-end tests: the real `gridsync-server` binary on a free loopback
//! port with a temporary database, driven by phones (gridsync-core stores
//! with the sync client) as they would be in the field.

#![allow(clippy::unwrap_used)]

mod access;
mod bad_requests;
mod binary_answer;
mod blobs;
mod building_heads;
mod cli_loop;
mod converge;
mod crash;
mod edge;
mod faults;
mod guard;
mod heal;
mod hotline;
mod identity;
mod multiprocess;
mod progress;
mod report_loop;

use gridsync_core::household::{NewHousehold, Place, Resident, Visit};
use gridsync_core::sync::{Client, SyncOptions, SyncReport};
use gridsync_core::{OpenOptions, Store};
use gridsync_tests::TestServer;

pub(crate) const COMMUNITY: &str = "110105001001";
pub(crate) const G1: &str = "110105001001001";
pub(crate) const G2: &str = "110105001001002";
pub(crate) const G3: &str = "110105001001003";
pub(crate) const PASSWORD: &str = "Grid-pass-2026";

/// A server with one community of three grids, its places, and users:
/// worker1 and worker2 (grid 1), worker3 (grid 2), holder1, supervisor
/// (the community), admin.
pub(crate) fn community() -> TestServer {
    community_with_env(&[])
}

/// [`community`] on a server started with these environment variables.
pub(crate) fn community_with_env(env: &[(&str, &str)]) -> TestServer {
    let server = TestServer::start_with_env(env);
    set_up_community(&server);
    server
}

/// The territory and users of [`community`], on a started `server`.
pub(crate) fn set_up_community(server: &TestServer) {
    server.import_territory(&serde_json::json!({
        "streets": [{
            "code": "110105001", "name": "建国门街道",
            "communities": [{
                "code": COMMUNITY, "name": "幸福社区",
                "grids": [
                    {"code": G1, "name": "第一网格"},
                    {"code": G2, "name": "第二网格"},
                    {"code": G3, "name": "第三网格"}
                ]
            }]
        }]
    }));
    server.add_user("worker1", "grid_worker", &[G1], None, PASSWORD);
    server.add_user("worker2", "grid_worker", &[G1], None, PASSWORD);
    server.add_user("worker3", "grid_worker", &[G2], None, PASSWORD);
    server.add_user("holder1", "package_holder", &[], None, PASSWORD);
    server.add_user("supervisor", "supervisor", &[], Some(COMMUNITY), PASSWORD);
    server.add_user("admin", "admin", &[], None, PASSWORD);
}

/// A phone: its own store file, signed in as `user`.
pub(crate) struct Phone {
    pub(crate) store: Store,
    pub(crate) client: Client,
    pub(crate) user_id: String,
    _dir: tempfile::TempDir,
}

impl Phone {
    pub(crate) fn login(server: &TestServer, user: &str) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            Store::open_with(dir.path().join("phone.sqlite3"), OpenOptions::default()).unwrap();
        let client = Client::new(&server.url).unwrap();
        let me = client.login(&mut store, user, PASSWORD).unwrap();
        Phone {
            store,
            client,
            user_id: me.id,
            _dir: dir,
        }
    }

    /// The store file (for the command-line client).
    pub(crate) fn store_path(&self) -> std::path::PathBuf {
        self._dir.path().join("phone.sqlite3")
    }

    pub(crate) fn sync(&mut self) -> SyncReport {
        self.try_sync().unwrap()
    }

    pub(crate) fn try_sync(&mut self) -> gridsync_core::Result<SyncReport> {
        gridsync_core::sync::sync(
            &mut self.store,
            &self.client,
            &SyncOptions::default(),
            None,
            &mut |_| {},
        )
    }

    /// Places must exist in the grid before households go there: add
    /// building 1–2, unit 1 of compound 幸福小区 (synced like any edit).
    pub(crate) fn add_places(&mut self, grid: &str) {
        for b in 1..=2 {
            self.store
                .add_place(grid, "", "幸福小区", &format!("{b}号楼"), "1单元")
                .unwrap();
        }
    }

    pub(crate) fn household(&mut self, grid: &str, room: &str, holder: Option<&str>) -> String {
        self.store
            .create_household(NewHousehold {
                grid: grid.into(),
                place: place(1, room),
                holder: holder.map(String::from),
                residents: vec![Resident::named("张三")],
                ..NewHousehold::default()
            })
            .unwrap()
    }
}

pub(crate) fn place(building: u32, room: &str) -> Place {
    Place {
        compound: "幸福小区".into(),
        building: format!("{building}号楼"),
        unit: "1单元".into(),
        room: room.into(),
        ..Place::default()
    }
}

pub(crate) fn visit(findings: &str) -> Visit {
    Visit {
        at: gridsync_core::clock::Clock::System.now_ms() - 60_000,
        method: "in_person".into(),
        findings: findings.into(),
        ..Visit::default()
    }
}
