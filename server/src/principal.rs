//! Who is asking: the authenticated user and device behind a request, with
//! what their role entitles them to. Built by [`crate::auth`], judged by
//! [`crate::scope`].

use gridsync_core::contact::Post;
use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 网格员: reads and writes their assigned grids.
    GridWorker,
    /// 包保责任人: reads and writes the households they hold, in any grid.
    PackageHolder,
    /// 社区/街道: reads and writes everything under their community or street.
    Supervisor,
    /// 职能部门: receives escalated issue reports (issue reports only).
    Department,
    /// Manages users, devices and the territory; sees everything.
    Admin,
    /// 楼栋长: reads the masked roster of their building and records
    /// contacts there (小三级); never the ledger itself.
    BuildingHead,
    /// 单元长: as a building head, for one unit of a building.
    UnitHead,
}

impl Role {
    /// The role's code, as stored and as written in tokens.
    pub fn code(self) -> &'static str {
        match self {
            Role::GridWorker => "grid_worker",
            Role::PackageHolder => "package_holder",
            Role::Supervisor => "supervisor",
            Role::Department => "department",
            Role::Admin => "admin",
            Role::BuildingHead => "building_head",
            Role::UnitHead => "unit_head",
        }
    }

    /// The role from its code.
    pub fn from_code(code: &str) -> Option<Role> {
        Some(match code {
            "grid_worker" => Role::GridWorker,
            "package_holder" => Role::PackageHolder,
            "supervisor" => Role::Supervisor,
            "department" => Role::Department,
            "admin" => Role::Admin,
            "building_head" => Role::BuildingHead,
            "unit_head" => Role::UnitHead,
            _ => return None,
        })
    }

    /// The role's Chinese name (the core's table, shared with phones).
    pub fn name_zh(self) -> &'static str {
        gridsync_core::issue::duty::role_name_zh(self.code())
    }

    /// A 楼栋长 or 单元长: serves a [`Post`], reads a roster, records contacts.
    pub fn is_head(self) -> bool {
        matches!(self, Role::BuildingHead | Role::UnitHead)
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The device the token was issued to (None for web sessions).
    pub device_id: Option<String>,
    /// Grid codes assigned (grid workers).
    pub grids: Vec<String>,
    /// Territory code a supervisor oversees: a 12-digit community code or a
    /// 9-digit street code; every grid whose code starts with it is theirs.
    pub subtree: Option<String>,
    /// The department a department user acts for (its code, e.g. `chengguan`).
    pub department: Option<String>,
    /// The building or unit a 楼栋长/单元长 serves.
    pub post: Option<Post>,
}
