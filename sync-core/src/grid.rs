//! The grid document (网格): its code, names, and the places inside it
//! (片区 / 小区 / 楼栋 / 单元) that households may be placed in.
//!
//! Places are kept as a set of path keys `area/compound/building/unit`, so two
//! people adding buildings at once merge by union.

use serde::{Deserialize, Serialize};

use crate::codes::GridCode;
use crate::household::Place;
use crate::tagset::TagSet;
use crate::{Reason, Result};

/// The kind tag of grid documents.
pub const KIND: &str = "grid";
/// The schema version written by this code.
pub const SCHEMA: u64 = 1;

/// A grid document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grid {
    /// Always `"grid"`.
    pub kind: String,
    /// Document schema version.
    pub schema: u64,
    /// The document id.
    pub id: String,
    /// The 15-digit grid code; also the document's scope.
    pub grid: String,
    /// The grid's name, e.g. 第三网格.
    pub name: String,
    /// The community (社区) name.
    pub community: String,
    /// The street (街道) name.
    pub street: String,
    /// Place keys `area/compound/building/unit`.
    pub places: TagSet,
}

/// What a caller gives to create a grid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewGrid {
    /// The 15-digit grid code.
    pub code: String,
    /// The grid's name.
    pub name: String,
    /// The community's name.
    pub community: String,
    /// The street's name.
    pub street: String,
}

impl NewGrid {
    /// Check every field.
    pub fn validate(&self) -> Result<()> {
        GridCode::parse(&self.code).map_err(|r| r.on("code"))?;
        for (field, value) in [
            ("name", &self.name),
            ("community", &self.community),
            ("street", &self.street),
        ] {
            if value.trim().is_empty() {
                return Err(Reason::new("名称不能为空", "name must not be empty").on(field));
            }
        }
        Ok(())
    }
}

/// The place key of the building/unit part of a household's place.
pub fn place_key(area: &str, compound: &str, building: &str, unit: &str) -> String {
    [area, compound, building, unit]
        .iter()
        .map(|s| s.trim())
        .collect::<Vec<_>>()
        .join("/")
}

impl Grid {
    /// Whether a household's place lies inside this grid.
    pub fn contains(&self, place: &Place) -> bool {
        self.places.contains(&place_key(
            &place.area,
            &place.compound,
            &place.building,
            &place.unit,
        ))
    }

    /// Check a place about to be given to a household.
    pub fn check_place(&self, place: &Place) -> Result<()> {
        if place.building.trim().is_empty() {
            return Err(
                Reason::new("楼栋不能为空", "building must not be empty").on("place.building")
            );
        }
        if place.room.trim().is_empty() {
            return Err(Reason::new("房号不能为空", "room must not be empty").on("place.room"));
        }
        if !self.contains(place) {
            return Err(Reason::new(
                "该地址不在本网格内",
                "place is not inside the grid (unknown area/compound/building/unit)",
            )
            .on("place"));
        }
        Ok(())
    }
}

/// Check the names of a place about to be added to a grid.
pub fn check_new_place(area: &str, compound: &str, building: &str, unit: &str) -> Result<()> {
    for (field, value) in [
        ("area", area),
        ("compound", compound),
        ("building", building),
        ("unit", unit),
    ] {
        if value.contains('/') {
            return Err(Reason::new("名称不能包含“/”", "names must not contain '/'").on(field));
        }
        if value.chars().count() > 50 {
            return Err(
                Reason::new("名称过长（最多50字）", "name longer than 50 characters").on(field),
            );
        }
    }
    if building.trim().is_empty() {
        return Err(Reason::new("楼栋不能为空", "building must not be empty").on("building"));
    }
    Ok(())
}
