//! The report of a demo run in a real browser: headless Chromium loads `report.html` with no
//! console messages and no network request, the rendered document has every section, and every
//! chart has drawn marks. A screenshot is written beside it.
//!
//! Chromium comes from Debian's `chromium` package (`.ci/run` installs it). Without it the test
//! says so and passes, unless `TESSERA_REQUIRE_BROWSER=1`, as in CI, makes it fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const SECTIONS: [&str; 10] = [
    "overview",
    "segments",
    "rfm",
    "clusters",
    "lift",
    "value",
    "validation",
    "overlap",
    "quality",
    "profiles",
];

const CHARTS: [&str; 11] = [
    "sizes-segments",
    "rfm-grid",
    "rfm-counts",
    "clusters-pca",
    "k-selection",
    "lift-heatmap",
    "clv-by-segment",
    "p-alive",
    "actual-vs-predicted",
    "overlap-matrix",
    "quality-rows",
];

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn browser(bin: &Path, profile: &Path, args: &[&str], page: &str) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(page)
        .output()
        .unwrap()
}

/// What the browser did loading a page: the rendered DOM, its console messages, and the URLs
/// the page itself asked for (the browser's own background requests, whose initiator is "not an
/// origin" in the network log, are not the page's).
struct Load {
    dom: String,
    console: Vec<String>,
    page_requests: Vec<String>,
}

fn load(bin: &Path, dir: &Path, page: &str) -> Load {
    let profile = dir.join("chromium-profile");
    let netlog = dir.join("netlog.json");
    let out = browser(
        bin,
        &profile,
        &[
            "--dump-dom",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--log-net-log={}", netlog.display()),
        ],
        page,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    let text = std::fs::read_to_string(&netlog).unwrap();
    // The log may end without its closing brackets when the browser exits at once.
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("a readable network log");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .unwrap();
    let page_requests = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start_job))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect();
    Load {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
        page_requests,
    }
}

#[test]
fn the_network_check_sees_a_page_that_fetches() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_BROWSER").is_none(),
            "no Chromium found"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("fetches.html");
    std::fs::write(
        &page,
        "<html><body><img src=\"http://example.invalid/x.png\"><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let l = load(&bin, dir.path(), &format!("file://{}", page.display()));
    assert_eq!(l.page_requests, ["http://example.invalid/x.png"]);
    assert!(
        l.console.iter().any(|c| c.contains("boom")),
        "{:?}",
        l.console
    );
}

#[test]
fn the_report_renders_in_a_browser_without_errors_or_network() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_BROWSER").is_none(),
            "TESSERA_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)"
        );
        eprintln!("skipped: no Chromium on this machine (apt-get install chromium to run it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = common::demo(dir.path(), 3000, 5).join("out/report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.len() < 5 << 20, "report is {} bytes", html.len());
    assert!(!html.contains("<script"), "the report runs no scripts");
    let page = format!("file://{}", report.display());
    let l = load(&bin, dir.path(), &page);
    assert!(l.console.is_empty(), "console messages: {:?}", l.console);
    assert!(
        l.page_requests.is_empty(),
        "network requests: {:?}",
        l.page_requests
    );
    let dom = &l.dom;
    for s in SECTIONS {
        assert!(
            dom.contains(&format!("<section id=\"{s}\">")),
            "section {s} missing"
        );
    }
    for c in CHARTS {
        let start = dom
            .find(&format!("data-chart=\"{c}\""))
            .unwrap_or_else(|| panic!("chart {c} missing"));
        let end = dom[start..].find("</figure>").unwrap() + start;
        let marks = dom[start..end].matches("class=\"mark\"").count();
        assert!(marks > 0, "chart {c} drew no marks");
    }
    assert!(
        !dom.contains("class=\"note missing\""),
        "a section lacks its data"
    );

    // A screenshot of the whole report.
    let shot = dir.path().join("report.png");
    let out = browser(
        &bin,
        &dir.path().join("chromium-profile"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1100,2400",
            "--hide-scrollbars",
        ],
        &page,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("TESSERA_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[test]
fn a_second_run_s_report_shows_the_movement_since_the_first() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("TESSERA_REQUIRE_BROWSER").is_none(),
            "TESSERA_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)"
        );
        eprintln!("skipped: no Chromium on this machine (apt-get install chromium to run it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shop = common::demo(dir.path(), 2000, 8);
    let first = std::fs::read_to_string(shop.join("out/report.html")).unwrap();
    assert!(
        !first.contains("<section id=\"history\">"),
        "the first run has nothing to compare with"
    );
    // The same shop a month earlier: customers move between tiers and RFM names.
    common::run_ok(
        &shop,
        &[
            "--quiet",
            "run",
            "--config",
            "tessera.toml",
            "--out",
            "out2",
            "--as-of",
            "2025-12-01",
        ],
    );
    let report = shop.join("out2/report.html");
    let page = format!("file://{}", report.display());
    let l = load(&bin, dir.path(), &page);
    assert!(l.console.is_empty(), "console messages: {:?}", l.console);
    assert!(l.page_requests.is_empty(), "{:?}", l.page_requests);
    let dom = &l.dom;
    let start = dom
        .find("<section id=\"history\">")
        .expect("a history section");
    let section = &dom[start..start + dom[start..].find("</section>").unwrap()];
    assert!(
        section.contains("Compared with run 1, as of 2026-01-01"),
        "{section}"
    );
    for c in [
        "migration-tier",
        "migration-rfm_segment",
        "migration-cluster",
        "migration-churn_risk",
        "trend-segments",
        "trend-tier",
    ] {
        let at = section
            .find(&format!("data-chart=\"{c}\""))
            .unwrap_or_else(|| panic!("chart {c} missing"));
        let end = section[at..].find("</figure>").unwrap() + at;
        assert!(
            section[at..end].matches("class=\"mark\"").count() > 0,
            "chart {c} drew no marks"
        );
    }
    if let Some(keep) = std::env::var_os("TESSERA_HISTORY_SCREENSHOT") {
        let shot = dir.path().join("history.png");
        browser(
            &bin,
            &dir.path().join("chromium-profile"),
            &[
                &format!("--screenshot={}", shot.display()),
                "--window-size=1100,9000",
                "--hide-scrollbars",
            ],
            &page,
        );
        std::fs::copy(&shot, keep).unwrap();
    }
}
