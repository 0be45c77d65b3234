//! Device store benchmarks: one grid (500 households, 1,500 residents,
//! 5,000 visits) built, reopened, queried and copied.
//!
//! Run: `cargo bench -p gridsync-core --bench store`
//! Prints a Markdown table (median of several runs) for BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use gridsync_core::clock::Clock;
use gridsync_core::demo::{Generator, GridPlan, populate_grid};
use gridsync_core::store::PlaceFilter;
use gridsync_core::{OpenOptions, Store};

const NOW: i64 = 1_795_658_400_000;
const GRID: &str = "110105001001001";

fn options() -> OpenOptions {
    OpenOptions {
        clock: Clock::Fixed(NOW),
        ..OpenOptions::default()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f());
        samples.push(t.elapsed());
    }
    median(samples)
}

fn file_size(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn row(what: &str, value: String, target: &str) {
    println!("| {what} | {value} | {target} |");
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let plan = GridPlan::default();
    let dir = tempfile::tempdir().unwrap();

    // Build: a fresh store each run.
    let mut builds = Vec::new();
    let mut path = dir.path().join("build-0.sqlite3");
    for run in 0..5 {
        path = dir.path().join(format!("build-{run}.sqlite3"));
        let mut s = Store::open_with(&path, options()).unwrap();
        let t = Instant::now();
        populate_grid(&mut s, GRID, &plan, "worker-1", NOW, 7).unwrap();
        builds.push(t.elapsed());
    }
    let build = median(builds);
    let size = file_size(&path);

    // Reopen: open the file and list the first building.
    let reopen = time(20, || {
        let s = Store::open_with(&path, options()).unwrap();
        s.households(&PlaceFilter {
            building: Some("1号楼".into()),
            ..Default::default()
        })
        .unwrap()
        .len()
    });

    let mut s = Store::open_with(&path, options()).unwrap();
    let building = time(200, || {
        s.households(&PlaceFilter {
            building: Some("3号楼".into()),
            ..Default::default()
        })
        .unwrap()
        .len()
    });
    let not_visited = time(200, || s.households_not_visited(30).unwrap().len());
    let not_contacted = time(200, || {
        s.households_not_contacted(30, Some("holder-3"))
            .unwrap()
            .len()
    });
    let by_tag = time(200, || {
        s.residents_with_tag("living_alone_elderly").unwrap().len()
    });
    let search = time(200, || s.search_residents("王").unwrap().len());
    let ids: Vec<String> = s
        .households(&PlaceFilter::default())
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    s.clear_cache();
    let mut k = 0;
    let load_one = time(200, || {
        k += 1;
        s.clear_cache();
        s.household(&ids[k % ids.len()]).unwrap().visits.len()
    });

    // One edit in its own transaction, fsync'd: what a worker waits for.
    let mut g = Generator::new(3);
    let mut k = 0;
    let edit = time(200, || {
        k += 1;
        s.add_visit(
            &ids[k % ids.len()],
            g.visit("worker-1", "grid_worker", NOW - 1000),
        )
        .unwrap()
    });

    // Copy every change into an empty second store.
    let docs = s.documents().unwrap();
    let all: Vec<(String, Vec<Vec<u8>>)> = docs
        .iter()
        .map(|(id, _, _)| (id.clone(), s.doc_changes(id).unwrap()))
        .collect();
    let changes: usize = all.iter().map(|(_, c)| c.len()).sum();
    let mut copies = Vec::new();
    for run in 0..5 {
        let mut t2 =
            Store::open_with(dir.path().join(format!("copy-{run}.sqlite3")), options()).unwrap();
        let t = Instant::now();
        t2.batch(|t2| {
            for (id, c) in &all {
                t2.apply_remote(id, c)?;
            }
            Ok(())
        })
        .unwrap();
        copies.push(t.elapsed());
        assert_eq!(
            t2.households(&PlaceFilter::default()).unwrap().len(),
            plan.households
        );
    }
    let copy = median(copies);

    // A fresh device receiving compacted documents, as a first pull does.
    let saved: Vec<(String, Vec<u8>)> = docs
        .iter()
        .map(|(id, _, _)| (id.clone(), s.export_doc(id).unwrap()))
        .collect();
    let saved_bytes: usize = saved.iter().map(|(_, b)| b.len()).sum();
    let mut loads = Vec::new();
    for run in 0..5 {
        let mut t3 =
            Store::open_with(dir.path().join(format!("fresh-{run}.sqlite3")), options()).unwrap();
        let t = Instant::now();
        t3.apply_remote_many(&saved).unwrap();
        loads.push(t.elapsed());
    }
    let fresh = median(loads);

    // A supervisor's device receiving 20 grids (10,000 households), 1,000
    // documents per page as a sync does, into one growing file.
    let twenty = std::env::var("GRIDSYNC_BENCH_TWENTY").is_ok();
    let mut twenty_result = None;
    if twenty {
        let mut pages: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        let mut all = Vec::new();
        for g in 0..20u64 {
            let mut src = Store::open_in_memory(options()).unwrap();
            let code = format!("1101050010010{:02}", g + 1);
            populate_grid(&mut src, &code, &plan, "worker-1", NOW, 100 + g).unwrap();
            for (id, _, _) in src.documents().unwrap() {
                all.push((id.clone(), src.export_doc(&id).unwrap()));
            }
        }
        for chunk in all.chunks(1000) {
            pages.push(chunk.to_vec());
        }
        let mut sup = Store::open_with(dir.path().join("supervisor.sqlite3"), options()).unwrap();
        let t = Instant::now();
        let mut per_page = Vec::new();
        for page in &pages {
            let p = Instant::now();
            sup.apply_remote_many(page).unwrap();
            per_page.push(p.elapsed());
        }
        twenty_result = Some((t.elapsed(), all.len(), per_page));
    }

    println!(
        "One grid: {} households, {} residents, {} visits; {} documents, {changes} changes.\n",
        plan.households,
        plan.households * plan.residents_per_household,
        plan.households * plan.visits_per_household,
        docs.len()
    );
    println!("| measurement (median) | result | target |");
    println!("|---|---|---|");
    row(
        "build the grid in a fresh store (one batch)",
        ms(build),
        "< 1 s",
    );
    row(
        "reopen the store and list one building",
        ms(reopen),
        "< 50 ms",
    );
    row("list one building (50 households)", ms(building), "< 10 ms");
    row(
        "households not visited in 30 days",
        ms(not_visited),
        "< 10 ms",
    );
    row(
        "a holder's households not contacted in 30 days",
        ms(not_contacted),
        "< 10 ms",
    );
    row("residents tagged 独居老人", ms(by_tag), "< 10 ms");
    row("search residents by name", ms(search), "< 10 ms");
    row("load one household document from disk", ms(load_one), "");
    row(
        "one visit recorded in its own fsync'd transaction",
        ms(edit),
        "",
    );
    row(
        "store file size",
        format!("{:.2} MB", size as f64 / 1e6),
        "< 15 MB",
    );
    row(
        &format!("copy all {changes} changes into an empty store"),
        ms(copy),
        "< 1 s",
    );
    if let Some((total, n, per_page)) = &twenty_result {
        row(
            &format!(
                "store 20 grids' compacted documents ({n}) in one file, 1,000 per transaction"
            ),
            format!(
                "{} (per page: {})",
                ms(*total),
                per_page
                    .iter()
                    .map(|d| format!("{:.0}", d.as_secs_f64() * 1000.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "",
        );
    }
    row(
        &format!(
            "store {} compacted documents ({:.2} MB) in an empty store (a first pull)",
            saved.len(),
            saved_bytes as f64 / 1e6
        ),
        ms(fresh),
        "",
    );
}
