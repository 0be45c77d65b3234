//! The overview's chart: horizontal bars of visit coverage per child of the
//! territory, laid out here and drawn as inline SVG by the template (so
//! labels are escaped like any other text, and no script or CDN is needed).

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label (a community, grid or building name).
    pub label: String,
    /// Value shown at the end of the bar, e.g. `82%`.
    pub value: String,
    /// Top of the row, px.
    pub y: u32,
    /// Bar length, px.
    pub width: u32,
    /// Below the target (drawn in the warning colour).
    pub low: bool,
}

/// A bar chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Bars, top to bottom.
    pub bars: Vec<Bar>,
    /// Total height, px.
    pub height: u32,
    /// Where bars start, px (room for labels).
    pub left: u32,
    /// Longest bar, px.
    pub span: u32,
}

/// Row height, px.
const ROW: u32 = 26;

/// Bars of `rows` (label, share 0..=1); shares under `target` are flagged.
pub fn coverage(rows: &[(String, f64)], target: f64) -> Chart {
    let (left, span) = (150, 380);
    let bars = rows
        .iter()
        .enumerate()
        .map(|(i, (label, share))| {
            let share = share.clamp(0.0, 1.0);
            Bar {
                label: label.clone(),
                value: format!("{:.0}%", share * 100.0),
                y: i as u32 * ROW,
                width: (share * f64::from(span)).round() as u32,
                low: share < target,
            }
        })
        .collect::<Vec<_>>();
    Chart {
        height: (bars.len() as u32).max(1) * ROW,
        bars,
        left,
        span,
    }
}
