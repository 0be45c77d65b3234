//! Importing a community's ledger (台账): a real XLSX and CSV of 5,000
//! residents with 20 bad rows (benches/common/ledger.rs), the dry run's
//! exact counts and refused rows, the import through the push path (the
//! households and residents then in the documents and the read model, the
//! changes the importer's, an audit entry), the same file imported again
//! changing nothing (the log's end does not move), the command line
//! (the real binary, a GB18030 CSV), the web pages over HTTP, and the
//! saved column mapping on both backends.

use gridsync_server::AppState;
use gridsync_server::config::Config;
use gridsync_server::directory::NewUser;
use gridsync_server::import::{self, Report, mapping};
use gridsync_server::principal::{Principal, Role};

use crate::support::TestServer;

#[allow(clippy::duplicate_mod)]
#[path = "../benches/common/ledger.rs"]
mod ledger;

use ledger::{BAD, COMMUNITY, HOUSEHOLDS, RESIDENTS};

/// The territory's grid documents published, a community supervisor.
async fn ready(state: &AppState) -> Principal {
    gridsync_server::sync::publish_grids(state).await.unwrap();
    let user = state
        .directory
        .create_user(NewUser::new("shequ", "社区书记", Role::Supervisor).with_subtree(COMMUNITY))
        .await
        .unwrap();
    user.principal(None)
}

fn headers() -> Vec<String> {
    ledger::HEADERS.iter().map(|h| (*h).to_owned()).collect()
}

/// The refused rows are exactly the bad ones: row numbers (data row `i`
/// is sheet row `i + first`), columns, reasons; nothing personal in full.
fn check_refused(report: &Report, first: usize, rows: &[Vec<String>]) {
    let got: Vec<(usize, &str)> = report
        .refused
        .iter()
        .map(|p| (p.row, p.column.as_str()))
        .collect();
    let want: Vec<(usize, &str)> = BAD.iter().map(|b| (b.index + first, b.column)).collect();
    assert_eq!(got, want);
    for (p, b) in report.refused.iter().zip(BAD) {
        let expected = match b.what {
            "check digit" => "校验位",
            "bad date" => "出生日期不是有效日期",
            "unknown ethnicity" => "未知的民族",
            "missing name" => "姓名不能为空",
            "grid outside" => "不属于本社区",
            "duplicate" => "疑似重复：该公民身份号码已登记在其他住户（和谐家园 99号楼 1单元 101）",
            "unknown relation" => "未知的与户主关系",
            "bad phone" => "电话号码格式不正确",
            "sex against ID" => "性别与身份证号码不一致",
            "unknown status" => "未知的居住状态",
            other => panic!("{other}"),
        };
        assert!(p.reason.contains(expected), "row {}: {}", p.row, p.reason);
    }
    assert_eq!(report.duplicates, 2);
    // Masked: no ID number, name or phone of the file appears in full.
    let json = serde_json::to_string(report).unwrap();
    for row in rows {
        for (v, long) in [(&row[1], 3), (&row[2], 11), (&row[6], 11)] {
            if v.chars().count() >= long {
                assert!(!json.contains(v.as_str()), "{v} shown in full: {json}");
            }
        }
    }
}

async fn log_end(state: &AppState) -> i64 {
    state.docs.max_seq().await.unwrap()
}

async fn count(state: &AppState, sql: &'static str) -> i64 {
    state
        .web
        .model()
        .run(move |c| c.query_row(sql, [], |r| r.get(0)))
        .await
        .unwrap()
}

/// The whole flow on one server: dry run, import, read back, import again.
async fn dry_run_import_and_again(state: &AppState) {
    let p = ready(state).await;
    ledger::seed(state, &p).await;
    let rows = ledger::rows();
    let xlsx = ledger::xlsx(&rows);
    let table = import::table::read("幸福社区台账.xlsx", &xlsx).unwrap();
    assert_eq!(table.rows.len(), RESIDENTS);
    let map = mapping::prefill(&table.headers, None);
    assert_eq!(map.len(), 13, "every column but 序号 recognised: {map:?}");

    // The dry run: exact counts, the bad rows, nothing written.
    let before = log_end(state).await;
    let dry = import::dry_run(state, &p, "幸福社区台账.xlsx", &xlsx, COMMUNITY, &map)
        .await
        .unwrap();
    assert_eq!(dry.rows, RESIDENTS);
    assert_eq!(dry.accepted, 4980);
    assert_eq!(dry.refused.len(), 20);
    check_refused(&dry, 3, &rows);
    assert_eq!(dry.new_households, HOUSEHOLDS - 1);
    assert_eq!(dry.new_residents, 4979);
    assert_eq!(dry.updated_residents, 1, "the seeded head's phone changes");
    assert_eq!(dry.unchanged_residents, 0);
    assert!(!dry.imported);
    assert_eq!(log_end(state).await, before, "a dry run writes nothing");

    // The import: the same account, then visible in the documents.
    let done = import::import(state, &p, "幸福社区台账.xlsx", &xlsx, COMMUNITY, &map)
        .await
        .unwrap();
    assert!(done.imported);
    assert_eq!(
        Report {
            imported: false,
            ..done.clone()
        },
        dry
    );
    let after = log_end(state).await;
    assert!(after > before);
    gridsync_server::web::readmodel::catch_up(state)
        .await
        .unwrap();
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM households WHERE grid LIKE '110105001001%'"
        )
        .await,
        HOUSEHOLDS as i64 + 1
    );
    assert_eq!(
        count(
            state,
            "SELECT count(*) FROM residents WHERE grid LIKE '110105001001%'"
        )
        .await,
        4980 + 2
    );
    // One household read back from its document: residents as in the
    // file, codes stored as codes, every change the importer's.
    let (grid, place) = ledger::household_place(1);
    let key = place.address_key();
    let id: String = state
        .web
        .model()
        .run(move |c| {
            c.query_row(
                "SELECT id FROM households WHERE grid = ?1 AND address_key = ?2",
                [grid, key],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    let bytes = state.docs.load(&id).await.unwrap().unwrap();
    let doc = automerge::Automerge::load(&bytes).unwrap();
    let h: gridsync_core::household::Household = gridsync_core::doc::read(&doc, None).unwrap();
    let mut residents: Vec<_> = h.current_residents().map(|(_, r)| r.clone()).collect();
    residents.sort_by(|a, b| a.relation.cmp(&b.relation));
    assert_eq!(residents.len(), 3);
    assert_eq!(residents[0].relation.as_deref(), Some("02"));
    assert_eq!(residents[0].name, rows[3][1]);
    assert_eq!(residents[0].id_number.as_deref(), Some(rows[3][2].as_str()));
    assert_eq!(rows[3][5], "回族");
    assert_eq!(residents[0].ethnicity.as_deref(), Some("03"));
    assert_eq!(residents[0].status.as_deref(), Some("registered"));
    assert_eq!(residents[1].relation.as_deref(), Some("10"));
    assert_eq!(h.created_by, p.user_id);
    let pushers = state.docs.pushers(&id).await.unwrap();
    assert!(!pushers.is_empty());
    assert!(pushers.iter().all(|(_, u)| *u == p.user_id));
    // The audit log says who imported what.
    let audit = gridsync_server::web::audit::latest(state.web.main(), 5)
        .await
        .unwrap();
    let entry = audit.iter().find(|e| e.action == "导入台账").unwrap();
    assert_eq!(entry.username, "shequ");
    assert_eq!(entry.target, "幸福社区（110105001001）");
    assert!(
        entry.detail.contains("幸福社区台账.xlsx"),
        "{}",
        entry.detail
    );
    assert!(
        entry.detail.contains("共5000行，导入4980行"),
        "{}",
        entry.detail
    );

    // Again: nothing changes, the log's end stays where it was.
    let again = import::import(state, &p, "幸福社区台账.xlsx", &xlsx, COMMUNITY, &map)
        .await
        .unwrap();
    assert_eq!(again.accepted, 4980);
    assert_eq!(again.unchanged_residents, 4980);
    assert!(again.changes_nothing());
    assert_eq!(again.refused.len(), 20);
    assert_eq!(
        log_end(state).await,
        after,
        "importing again changed something"
    );

    // The CSV of the same ledger (UTF-8 with BOM) reads the same: every
    // row already there, the bad ones refused at their CSV lines.
    let csv = ledger::csv(&rows, false);
    let map = mapping::prefill(&headers(), None);
    let dry = import::dry_run(state, &p, "台账.csv", &csv, COMMUNITY, &map)
        .await
        .unwrap();
    assert_eq!((dry.accepted, dry.unchanged_residents), (4980, 4980));
    check_refused(&dry, 2, &rows);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_of_5000_is_checked_imported_and_imported_again_unchanged() {
    let server = TestServer::new().await;
    dry_run_import_and_again(&server.state).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_too() {
    let Some(db) = gridsync_tests::PgDatabase::fresh() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_data_dir(dir.path());
    config.database_url = Some(db.url.clone());
    let state = AppState::open(config).await.unwrap();
    gridsync_server::territory::import(
        state.directory.as_ref(),
        gridsync_server::territory::Format::Json,
        ledger::TERRITORY_JSON.as_bytes(),
    )
    .await
    .unwrap();
    dry_run_import_and_again(&state).await;
    mapping_conformance(&state).await;
}

/// The saved mapping, on whichever backend `state` has.
async fn mapping_conformance(state: &AppState) {
    let main = state.web.main();
    assert_eq!(mapping::load(main, "110105001002").await.unwrap(), None);
    let first: mapping::Saved = [("name".to_owned(), "姓名".to_owned())].into();
    mapping::save(main, "110105001002", &first, "u1")
        .await
        .unwrap();
    assert_eq!(
        mapping::load(main, "110105001002").await.unwrap(),
        Some(first)
    );
    let second: mapping::Saved = [
        ("name".to_owned(), "居民姓名".to_owned()),
        ("room".to_owned(), "门牌号".to_owned()),
    ]
    .into();
    mapping::save(main, "110105001002", &second, "u2")
        .await
        .unwrap();
    assert_eq!(
        mapping::load(main, "110105001002").await.unwrap(),
        Some(second)
    );
    assert_eq!(mapping::load(main, "110105001001").await.unwrap(), None);
}

#[tokio::test]
async fn the_mapping_is_saved_per_community() {
    let server = TestServer::new().await;
    mapping_conformance(&server.state).await;
}

#[tokio::test]
async fn only_admins_and_the_communitys_supervisors_import() {
    let server = TestServer::new().await;
    let state = &server.state;
    gridsync_server::sync::publish_grids(state).await.unwrap();
    let make = |name: &'static str,
                role: Role,
                grids: &'static [&'static str],
                sub: Option<&'static str>| {
        let mut u = NewUser::new(name, "测试", role).with_grids(grids.iter().copied());
        u.subtree = sub.map(str::to_owned);
        async move {
            state
                .directory
                .create_user(u)
                .await
                .unwrap()
                .principal(None)
        }
    };
    let worker = make("worker", Role::GridWorker, &[ledger::G1], None).await;
    let other = make("other", Role::Supervisor, &[], Some("110105001002")).await;
    let street = make("jiedao", Role::Supervisor, &[], Some(ledger::STREET)).await;
    let admin = make("root", Role::Admin, &[], None).await;
    let csv = ledger::csv(&ledger::rows()[..30], false);
    let map = mapping::prefill(&headers(), None);
    for p in [&worker, &other] {
        let e = import::dry_run(state, p, "a.csv", &csv, COMMUNITY, &map)
            .await
            .unwrap_err();
        assert!(
            matches!(e, gridsync_server::web::WebError::Forbidden),
            "{e}"
        );
    }
    for p in [&street, &admin] {
        let r = import::dry_run(state, p, "a.csv", &csv, COMMUNITY, &map)
            .await
            .unwrap();
        assert_eq!((r.rows, r.accepted, r.refused.len()), (30, 29, 1));
    }
    // A mapping without the room is refused, naming it.
    let mut partial = map.clone();
    partial.remove("room");
    let e = import::dry_run(state, &admin, "a.csv", &csv, COMMUNITY, &partial)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("房号"), "{e}");
}

/// The real binary: a dry run and the import of a GB18030 CSV (as Excel
/// in China saves it), then the same again changing nothing.
#[test]
fn the_command_line_imports_a_gb18030_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let state = AppState::open(Config::with_data_dir(&data)).await.unwrap();
        gridsync_server::territory::import(
            state.directory.as_ref(),
            gridsync_server::territory::Format::Json,
            ledger::TERRITORY_JSON.as_bytes(),
        )
        .await
        .unwrap();
        let p = ready(&state).await;
        ledger::seed(&state, &p).await;
    });
    drop(rt);
    let file = dir.path().join("台账.csv");
    std::fs::write(&file, ledger::csv(&ledger::rows(), true)).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--data-dir",
            data.to_str().unwrap(),
            "import-ledger",
            "--file",
            file.to_str().unwrap(),
            "--community",
            COMMUNITY,
            "--as",
            "shequ",
        ];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridsync-server"))
            .args(&args)
            .env("GRIDSYNC_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    };
    let (ok, out, err) = run(&["--dry-run"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("试导入（未写入）"), "{out}");
    assert!(
        out.contains("共 5000 行：接受 4980 行，拒绝 20 行（其中疑似重复 2 行）"),
        "{out}"
    );
    assert!(out.contains("第12行\t身份证号（公民身份号码）"), "{out}");
    assert!(
        !out.contains(&ledger::rows()[10][2]),
        "an ID number printed in full"
    );
    let (ok, out, err) = run(&[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("已导入"), "{out}");
    assert!(
        out.contains("新增住户 1666 户，新增居民 4979 人，更新居民 1 人"),
        "{out}"
    );
    let (ok, out, err) = run(&[]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("无变化 4980 人"), "{out}");
    assert!(out.contains("与已有台账相同，未做任何修改"), "{out}");
    // A mapping that lacks a required column: refused, exit code 1.
    let (ok, _, err) = run(&["--mapping", r#"{"name":"姓名"}"#, "--dry-run"]);
    assert!(!ok);
    assert!(err.contains("楼栋"), "{err}");
}

/// The pages over HTTP against the server listening on a real socket:
/// sign in, the overview's link, upload (multipart), the mapping form,
/// the dry run's page (masked), the import; a grid worker is refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_web_pages_upload_map_check_and_import() {
    let server = TestServer::new().await;
    let state = server.state.clone();
    gridsync_server::sync::publish_grids(&state).await.unwrap();
    server
        .add_user("shequ", Role::Supervisor, &[], Some(COMMUNITY))
        .await;
    server
        .add_user("worker", Role::GridWorker, &[ledger::G1], None)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, gridsync_server::app(state.clone())).into_future());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |user: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let res = client
                .post(format!("{base}/web/login"))
                .form(&[("username", user), ("password", crate::support::PASSWORD)])
                .send()
                .await
                .unwrap();
            res.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with("gridsync_web="))
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let get = |cookie: String, path: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let res = client
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let worker = login("worker").await;
    assert_eq!(get(worker, "/web/import".into()).await.0, 403);

    let sup = login("shequ").await;
    let (status, overview) = get(sup.clone(), format!("/web/t/{COMMUNITY}")).await;
    assert_eq!(status, 200);
    assert!(
        overview.contains("id=\"import-ledger\""),
        "no link on the overview"
    );
    let (status, page) = get(sup.clone(), format!("/web/import?code={COMMUNITY}")).await;
    assert_eq!(status, 200, "{page}");
    let csrf = attr(&page, "name=\"csrf\" value=\"");

    // Upload 300 rows (two of them bad: data rows 10 and 250) as XLSX.
    let rows = ledger::rows();
    let xlsx = ledger::xlsx(&rows[..300]);
    let boundary = "----gridsyncImportTest";
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf.as_str()), ("code", COMMUNITY)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"台账.xlsx\"\r\n\
             Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&xlsx);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let upload = |body: Vec<u8>| {
        let (client, base, sup) = (client.clone(), base.clone(), sup.clone());
        async move {
            let res = client
                .post(format!("{base}/web/import"))
                .header("cookie", sup)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (status, page) = upload(body.clone()).await;
    assert_eq!(status, 200);
    assert!(page.contains("已按列名预选"), "{page}");
    assert!(
        page.contains("<option value=\"身份证号\" selected>"),
        "{page}"
    );
    let sha256 = attr(&page, "name=\"sha256\" value=\"");
    assert_eq!(sha256, import::sha256(&xlsx));

    // Confirm the mapping as pre-selected: the dry run's page.
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("code".into(), COMMUNITY.into()),
        ("sha256".into(), sha256.clone()),
    ];
    for (field, column) in mapping::prefill(&headers(), None) {
        form.push((format!("map_{field}"), column));
    }
    let res = client
        .post(format!("{base}/web/import/check"))
        .header("cookie", sup.clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"import-accepted\">298<"), "{page}");
    assert!(page.contains("id=\"import-refused\">2<"), "{page}");
    assert!(
        page.contains("<td class=\"num\">13</td>"),
        "row 13 (data row 10) listed"
    );
    assert!(page.contains("校验位"), "{page}");
    assert!(!page.contains(&rows[10][2]), "ID number shown in full");
    assert!(!page.contains(&rows[10][1]), "name shown in full");
    // The mapping is saved for the community: the next upload is pre-mapped.
    assert!(
        mapping::load(state.web.main(), COMMUNITY)
            .await
            .unwrap()
            .is_some()
    );
    let mapping_json = html_unescape(&attr(&page, "name=\"mapping\" value=\""));
    let (_, again) = upload(body).await;
    assert!(
        again.contains("已按本社区上次保存的对应关系预选"),
        "{again}"
    );

    // A forged form is refused; the real one imports.
    let run = |csrf: String| {
        let (client, base, sup) = (client.clone(), base.clone(), sup.clone());
        let (sha256, mapping_json) = (sha256.clone(), mapping_json.clone());
        async move {
            let res = client
                .post(format!("{base}/web/import/run"))
                .header("cookie", sup)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("code", COMMUNITY),
                    ("sha256", sha256.as_str()),
                    ("mapping", mapping_json.as_str()),
                ])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let before = log_end(&state).await;
    assert_eq!(run("0".repeat(32)).await.0, 400);
    assert_eq!(log_end(&state).await, before);
    let (status, page) = run(csrf.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("导入结果"), "{page}");
    assert!(page.contains("id=\"import-new-residents\">298<"), "{page}");
    let after = log_end(&state).await;
    assert!(after > before);
    // The household's history names the supervisor who imported it.
    gridsync_server::web::readmodel::catch_up(&state)
        .await
        .unwrap();
    let (grid, place) = ledger::household_place(1);
    let key = place.address_key();
    let id: String = state
        .web
        .model()
        .run(move |c| {
            c.query_row(
                "SELECT id FROM households WHERE grid = ?1 AND address_key = ?2",
                [grid, key],
                |r| r.get(0),
            )
        })
        .await
        .unwrap();
    let (status, page) = get(sup.clone(), format!("/web/h/{id}")).await;
    assert_eq!(status, 200);
    let history = &page[page.find("id=\"history\"").unwrap()..];
    let history = &history[..history.find("</table>").unwrap()];
    assert!(history.contains("测试用户"), "{history}");
    // Pressed again (the same file): nothing changes.
    let (status, page) = run(csrf).await;
    assert_eq!(status, 200);
    assert!(page.contains("与已有台账相同，未做任何修改"), "{page}");
    assert_eq!(log_end(&state).await, after);
}

/// The value of the attribute that follows `prefix` in `page`.
fn attr(page: &str, prefix: &str) -> String {
    let start = page
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {page}"))
        + prefix.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn html_unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
