//! The territory file: JSON and CSV, validation that names the place, and
//! all-or-nothing, idempotent imports (HTTP and command line).

use axum::http::StatusCode;
use gridsync_server::directory::{ImportSummary, UpsertCounts};
use gridsync_server::territory::{self, Format, Location, Problems};
use serde_json::json;

use crate::support::{
    COMMUNITY, G1, G2, G3, STREET, TERRITORY_CSV, TERRITORY_JSON, TestServer, message,
};

const HEADER: &str = "street_code,street_name,community_code,community_name,grid_code,grid_name\n";

fn counts(created: u64, updated: u64, unchanged: u64) -> UpsertCounts {
    UpsertCounts {
        created,
        updated,
        unchanged,
    }
}

/// The problems of an invalid CSV body.
fn csv_problems(body: &str) -> Problems {
    territory::parse_csv(body.as_bytes()).expect_err("invalid")
}

fn json_problems(body: &serde_json::Value) -> Problems {
    territory::parse_json(body.to_string().as_bytes()).expect_err("invalid")
}

#[tokio::test]
async fn json_import_fills_the_directory() {
    let s = TestServer::empty().await;
    let summary = territory::import(
        s.state.directory.as_ref(),
        Format::Json,
        TERRITORY_JSON.as_bytes(),
    )
    .await
    .expect("import");
    assert_eq!(
        summary,
        ImportSummary {
            streets: counts(1, 0, 0),
            communities: counts(2, 0, 0),
            grids: counts(3, 0, 0)
        }
    );
    let dir = &s.state.directory;
    assert_eq!(
        dir.grid_codes_under(COMMUNITY).await.expect("dir"),
        vec![G1, G2]
    );
    assert_eq!(
        dir.grid_codes_under(STREET).await.expect("dir"),
        vec![G1, G2, G3]
    );
    assert_eq!(dir.grid_codes_under("").await.expect("dir").len(), 3);
    assert!(
        dir.grid_codes_under("110105002")
            .await
            .expect("dir")
            .is_empty()
    );
    assert!(
        dir.grid_codes_under("1101050010%")
            .await
            .expect("dir")
            .is_empty(),
        "no LIKE wildcards"
    );
    let g = dir.grid(G3).await.expect("dir").expect("grid");
    assert_eq!(
        (
            g.name.as_str(),
            g.community_code.as_str(),
            g.street_code.as_str()
        ),
        ("第一网格", "110105001002", STREET)
    );
    assert!(dir.grid("110105001001009").await.expect("dir").is_none());
    assert_eq!(
        dir.street(STREET).await.expect("dir").expect("street").name,
        "建国门街道"
    );
    assert_eq!(
        dir.community(COMMUNITY)
            .await
            .expect("dir")
            .expect("community")
            .name,
        "幸福社区"
    );
    assert_eq!(dir.communities(STREET).await.expect("dir").len(), 2);
    assert_eq!(dir.grids(COMMUNITY).await.expect("dir").len(), 2);

    // Export gives back the file.
    let exported = territory::export(dir.as_ref()).await.expect("export");
    let original: territory::Territory = serde_json::from_str(TERRITORY_JSON).expect("json");
    assert_eq!(exported, original);
}

#[tokio::test]
async fn csv_import_matches_json_and_reimport_is_idempotent() {
    let s = TestServer::new().await; // the JSON territory is in already
    let dir = s.state.directory.as_ref();
    let again = territory::import(dir, Format::Csv, TERRITORY_CSV.as_bytes())
        .await
        .expect("csv");
    assert_eq!(
        again,
        ImportSummary {
            streets: counts(0, 0, 1),
            communities: counts(0, 0, 2),
            grids: counts(0, 0, 3)
        }
    );
    // A renamed grid and a new one; nothing else moves, nothing is deleted.
    let csv = format!(
        "{HEADER}110105001,建国门街道,110105001001,幸福社区,110105001001001,一号网格\n\
         110105001,建国门街道,110105001001,幸福社区,110105001001003,第三网格\n"
    );
    let summary = territory::import(dir, Format::Csv, csv.as_bytes())
        .await
        .expect("csv");
    assert_eq!(summary.grids, counts(1, 1, 0));
    assert_eq!(summary.communities, counts(0, 0, 1));
    assert_eq!(
        dir.grid(G1).await.expect("dir").expect("grid").name,
        "一号网格"
    );
    assert_eq!(dir.grid_codes_under("").await.expect("dir").len(), 4);
}

#[test]
fn csv_tolerates_bom_spaces_column_order_and_blank_lines() {
    let csv = "\u{feff}grid_name,grid_code,community_name,community_code,street_name,street_code,备注\n\
               第一网格 , 110105001001001,幸福社区,110105001001,建国门街道,110105001,\n\
               \n\
               第二网格,110105001001002,幸福社区,110105001001,建国门街道,110105001,二楼\n";
    let rows = territory::parse_csv(csv.as_bytes()).expect("valid");
    assert_eq!(rows.streets.len(), 1);
    assert_eq!(rows.communities.len(), 1);
    assert_eq!(rows.grids.len(), 2);
    assert_eq!(rows.grids[0].name, "第一网格");
    assert_eq!(rows.grids[0].code, G1);
}

#[test]
fn csv_problems_name_the_line_and_column_in_both_languages() {
    let csv = format!(
        "{HEADER}110105001,建国门街道,110105001001,幸福社区,110105001001001,第一网格\n\
         110105001,建国门街道,110105001001,幸福社区,11010500100100,第二网格\n\
         110105001,建国门街道,110105001002,和平社区,110105001001003,第三网格\n\
         110105001,建国门街道,110105001001,幸福社区,110105001001004,\n\
         110105001,建国门街道,110105001001,快乐社区,110105001001005,第五网格\n\
         110105001,建国门街道,110105001001,幸福社区,110105001001001,第一网格\n\
         110105002,建国门街道,110105001003,光明社区,110105001003001,第一网格\n"
    );
    let problems = csv_problems(&csv);
    let text = problems.to_string();
    let expect = [
        (3, "grid_code", "grid code must be 15 digits"),
        (
            4,
            "grid_code",
            "must start with its community's code 110105001002",
        ),
        (5, "grid_name", "grid name must not be empty"),
        (6, "community_name", "different name"),
        (7, "grid_code", "appears more than once"),
        (
            8,
            "community_code",
            "must start with its street's code 110105002",
        ),
    ];
    assert_eq!(problems.list.len(), expect.len(), "{text}");
    for (p, (line, field, en)) in problems.list.iter().zip(expect) {
        assert_eq!(p.location, Location::Line(line), "{text}");
        assert_eq!(p.field, field, "{text}");
        assert!(p.reason.en.contains(en), "{}: {text}", p.reason.en);
        assert!(!p.reason.zh.is_empty());
    }
    assert!(
        text.contains("第3行 grid_code：网格编码应为15位数字"),
        "{text}"
    );
    assert!(
        text.contains("line 3, grid_code: grid code must be 15 digits"),
        "{text}"
    );
}

#[test]
fn csv_shape_problems() {
    let p = csv_problems("street_code,street_name,community_code,grid_code,grid_name\n1,2,3,4,5\n");
    assert_eq!(p.list[0].field, "community_name");
    assert_eq!(p.list[0].location, Location::Line(1));
    let p = csv_problems(&format!("{HEADER}110105001,建国门街道,110105001001\n"));
    assert_eq!(p.list[0].location, Location::Line(2));
    assert!(p.list[0].reason.en.contains("columns"));
    let p = csv_problems(HEADER);
    assert_eq!(p.list[0].location, Location::File);
    assert!(p.list[0].reason.en.contains("no streets"));
    // GBK, as Excel saves "CSV" on a Chinese Windows.
    let mut gbk = HEADER.as_bytes().to_vec();
    gbk.extend_from_slice(b"110105001,\xbd\xa8\xb9\xfa\xc3\xc5,110105001001,x,110105001001001,y\n");
    let p = territory::parse_csv(&gbk).expect_err("not utf-8");
    assert!(p.list[0].reason.en.contains("UTF-8"), "{p}");
    // Many problems are capped, with a count of the rest.
    let mut many = HEADER.to_owned();
    for _ in 0..80 {
        many.push_str("1,a,2,b,3,c\n");
    }
    let p = csv_problems(&many);
    assert_eq!(p.list.len(), territory::MAX_PROBLEMS);
    assert!(p.more > 0);
    assert!(p.to_string().contains("more"));
}

#[test]
fn json_problems_name_the_path() {
    let p = json_problems(
        &json!({"streets": [{"code": "110105001", "name": "建国门街道", "communities": [
        {"code": "110105001001", "name": "幸福社区", "grids": [
            {"code": "110105001001001", "name": "第一网格"},
            {"code": "110105001001000", "name": "零号网格"},
            {"code": "110105001002001", "name": "别处的网格"},
            {"code": "110105001001001", "name": "重复"}]},
        {"code": "11010500100", "name": "短编码社区"},
        {"code": "110105002001", "name": ""}]}]}),
    );
    let got: Vec<(String, &str)> = p
        .list
        .iter()
        .map(|p| match &p.location {
            Location::Path(path) => (format!("{path}.{}", p.field), p.reason.en.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "streets[0].communities[0].grids[1].code",
            "streets[0].communities[0].grids[2].code",
            "streets[0].communities[0].grids[3].code",
            "streets[0].communities[1].code",
            "streets[0].communities[2].code",
            "streets[0].communities[2].name",
        ],
        "{p}"
    );
    assert!(got[0].1.contains("000"));
    assert!(got[2].1.contains("more than once"));

    // Syntax and shape errors give the line.
    let p = territory::parse_json(b"{\"streets\": [\n  {\"code\": \"110105001\",, }]}")
        .expect_err("syntax");
    assert_eq!(p.list[0].location, Location::Line(2));
    let p = territory::parse_json(
        br#"{"streets": [{"code": "110105001", "name": "x", "communites": []}]}"#,
    )
    .expect_err("typo");
    assert!(p.to_string().contains("communites"), "{p}");
    let p = territory::parse_json(br#"{"streets": []}"#).expect_err("empty");
    assert_eq!(p.list[0].location, Location::File);
}

#[tokio::test]
async fn an_invalid_file_imports_nothing_over_http() {
    let s = TestServer::empty().await;
    let admin = {
        // No territory yet: an admin needs none.
        s.add_user("admin", gridsync_server::principal::Role::Admin, &[], None)
            .await;
        s.tokens("admin", &crate::support::device()).await.0
    };
    let bad = format!(
        "{TERRITORY_CSV}110105001,建国门街道,110105001001,幸福社区,1101050010010x9,坏网格\n"
    );
    let (status, body) = s
        .call_raw(
            "POST",
            "/v1/admin/territory/csv",
            Some(&admin),
            "text/csv",
            Some(bad.into_bytes()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_territory");
    assert!(message(&body).contains("第5行"), "{body}");
    assert!(message(&body).contains("line 5"), "{body}");
    assert_eq!(body["field"], "line 5, grid_code");
    assert!(
        s.state.directory.streets().await.expect("dir").is_empty(),
        "nothing imported"
    );
    assert!(
        s.state
            .directory
            .grid_codes_under("")
            .await
            .expect("dir")
            .is_empty()
    );

    let mut doc: serde_json::Value = serde_json::from_str(TERRITORY_JSON).expect("json");
    doc["streets"][0]["communities"][1]["grids"][0]["code"] = json!("110105001001009");
    let (status, body) = s
        .call("POST", "/v1/admin/territory", Some(&admin), Some(doc))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("streets[0].communities[1].grids[0]"),
        "{body}"
    );
    assert!(
        s.state.directory.streets().await.expect("dir").is_empty(),
        "nothing imported"
    );

    // The valid files go in, over both endpoints.
    let (status, body) = s
        .call_raw(
            "POST",
            "/v1/admin/territory",
            Some(&admin),
            "application/json",
            Some(TERRITORY_JSON.into()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grids"]["created"], 3);
    let (status, body) = s
        .call_raw(
            "POST",
            "/v1/admin/territory/csv",
            Some(&admin),
            "text/csv",
            Some(TERRITORY_CSV.into()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["grids"]["unchanged"], 3);
    let (status, body) = s
        .call("GET", "/v1/admin/territory", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["streets"][0]["communities"][0]["grids"][1]["code"], G2);
}

#[test]
fn the_command_line_imports_json_and_csv() {
    use clap::Parser;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| {
        let mut argv = vec![
            "gridsync-server",
            "--data-dir",
            dir.path().to_str().expect("utf-8"),
        ];
        argv.extend_from_slice(args);
        gridsync_server::cli::run(gridsync_server::cli::Cli::try_parse_from(argv)?)
    };
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_owned()
    };
    let json = write("territory.JSON", TERRITORY_JSON);
    let csv = write("territory.csv", TERRITORY_CSV);
    let bad = write(
        "bad.csv",
        &format!("{HEADER}110105001,街道,110105001001,社区,110105001001001,\n"),
    );
    let txt = write("territory.txt", TERRITORY_CSV);

    run(&["import", "--dry-run", &json]).expect("dry run");
    let err = run(&["import", &bad]).expect_err("invalid");
    assert!(format!("{err:#}").contains("line 2, grid_name"), "{err:#}");
    let err = run(&["import", &txt]).expect_err("unknown format");
    assert!(format!("{err:#}").contains(".csv"), "{err:#}");
    assert!(run(&["import", "/no/such/file.json"]).is_err());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let count = || {
        rt.block_on(async {
            let state = gridsync_server::AppState::open(
                gridsync_server::config::Config::with_data_dir(dir.path()),
            )
            .await
            .expect("state");
            state
                .directory
                .grid_codes_under("")
                .await
                .expect("dir")
                .len()
        })
    };
    assert_eq!(count(), 0, "dry run and invalid files import nothing");
    run(&["import", &json]).expect("json");
    run(&["import", &csv]).expect("csv");
    assert_eq!(count(), 3);
}

#[test]
fn the_documented_examples_are_valid_and_agree() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let json = std::fs::read(docs.join("territory.json")).expect("example json");
    let csv = std::fs::read(docs.join("territory.csv")).expect("example csv");
    let from_json = territory::parse_json(&json).expect("valid json example");
    let from_csv = territory::parse_csv(&csv).expect("valid csv example");
    assert_eq!(from_json, from_csv);
    assert_eq!(from_json.grids.len(), 6);
}
