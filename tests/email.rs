//! The e-mail as mail clients and browsers meet it: every `cid:` of the
//! HTML has its inline PNG part and every part is referenced, each PNG is
//! twice its declared size, alt texts hold the figures, the HTML part stays
//! under Gmail's clipping size at scale 10, a data team's own metric
//! appears from one SQL file and one benchmark, and report.html holds up in
//! headless Chromium at 360 px and 1200 px.

use std::collections::BTreeSet;
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::support::{Project, clientpulse, eml_files, metric, run, stderr};

/// Width and height of a PNG (its IHDR chunk), if the bytes are a PNG.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") || png.len() < 24 || &png[12..16] != b"IHDR" {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    Some((word(16), word(20)))
}

/// Every `<img>` of an HTML text: (src, width, height, alt).
fn images(html: &str) -> Vec<(String, u32, u32, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_string())
    };
    html.split("<img")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            Some((
                attribute(tag, "src")?,
                attribute(tag, "width")?.parse().ok()?,
                attribute(tag, "height")?.parse().ok()?,
                attribute(tag, "alt")?,
            ))
        })
        .collect()
}

fn demo_project(scale: &str, seed: &str) -> Project {
    let project = Project::new("warehouse");
    crate::support::demo_data(
        &project.path().join("warehouse"),
        &["--end", "2026-11-25", "--scale", scale, "--seed", seed],
    );
    project
}

/// The shipped config's metrics and audiences (summary for leadership,
/// detailed for customer success), reading the project's warehouse.
fn shipped_config(project: &Project) -> std::path::PathBuf {
    let repo = crate::support::repo();
    let text = std::fs::read_to_string(repo.join("config/clientpulse.yaml"))
        .expect("config")
        .replace("root: ../out/demo-warehouse", "root: warehouse")
        .replace("  generate_demo_if_missing: true\n", "")
        .replace(
            "queries: ../queries",
            &format!("queries: {}", repo.join("queries").display()),
        )
        .replace(
            "templates: ../report-templates",
            &format!("templates: {}", repo.join("report-templates").display()),
        )
        .replace("out: ../out", "out: out");
    let path = project.path().join("shipped.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

/// The shipped config without the account managers' books, for tests of
/// the company-wide messages (the books cost a debug build most of a run).
fn shipped_config_without_books(project: &Project) -> std::path::PathBuf {
    let path = shipped_config(project);
    let text = std::fs::read_to_string(&path).expect("config");
    let start = text
        .find("  - name: account-managers\n")
        .expect("the shipped account-managers audience");
    let end = start + text[start..].find("metrics: [").expect("its metrics");
    let end = end + text[end..].find('\n').expect("end of line") + 1;
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).expect("write");
    path
}

#[test]
fn every_image_is_inline_referenced_sharp_and_described() {
    let project = demo_project("1", "61");
    let config = shipped_config(&project);
    let output = run(clientpulse()
        .args(["run", "--period", "2026-W47", "--config"])
        .arg(&config));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = project.report_json("2026-W47");
    let messages = eml_files(&project.out().join("2026-W47/outbox"));
    assert_eq!(
        messages.len(),
        9,
        "leadership (2), customer success, the data team, five account managers"
    );
    for file in &messages {
        let bytes = std::fs::read(file).expect("eml");
        let message = MessageParser::default().parse(&bytes).expect("parsable");
        let html = message.body_html(0).expect("an HTML part").into_owned();
        assert!(message.body_text(0).is_some(), "a text part");
        assert!(
            html.len() < 100 * 1024,
            "{}: HTML part of {} bytes",
            file.display(),
            html.len()
        );
        // The inline parts, by Content-ID.
        let mut parts = std::collections::BTreeMap::new();
        for part in message.parts.iter() {
            if let (Some(id), PartType::Binary(body) | PartType::InlineBinary(body)) =
                (part.content_id(), &part.body)
            {
                let content_type = part.content_type().expect("content type");
                assert_eq!(
                    (content_type.ctype(), content_type.subtype()),
                    ("image", Some("png"))
                );
                parts.insert(
                    id.trim_matches(|c| c == '<' || c == '>').to_string(),
                    body.to_vec(),
                );
            }
        }
        let shown = images(&html);
        // An account manager's book has four metrics; the others, many more.
        let least = if file.display().to_string().contains("account-managers") {
            3
        } else {
            10
        };
        assert!(
            shown.len() > least,
            "{}: {} images",
            file.display(),
            shown.len()
        );
        let mut referenced = BTreeSet::new();
        for (src, width, height, alt) in &shown {
            let id = src.strip_prefix("cid:").expect("images are inline");
            let png = parts.get(id).unwrap_or_else(|| panic!("no part for {src}"));
            assert_eq!(png_size(png), Some((width * 2, height * 2)), "{src}");
            assert!(!alt.is_empty(), "{src} has alt text");
            referenced.insert(id.to_string());
        }
        let attached: BTreeSet<String> = parts.keys().cloned().collect();
        assert_eq!(
            attached, referenced,
            "every part is referenced, and only those"
        );
        // Leadership sees net new MRR and NPS, not the movements: the
        // bridge and the split still come with them.
        if file.display().to_string().contains("leadership") {
            assert!(html.contains("cid:mrr-bridge.png"), "the MRR bridge");
            assert!(html.contains("cid:nps-split.png"), "the NPS split");
            assert!(html.contains("Promoters"), "the split's legend");
        }

        // Alt text states the figures: MRR's trend names this week's value.
        // (An account manager's against their own book.)
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let own = match name.split_once("-account-managers-") {
            Some((_, address)) => serde_json::from_str(
                &std::fs::read_to_string(project.out().join(format!(
                    "2026-W47/books/account-managers/{}.json",
                    address.trim_end_matches(".eml")
                )))
                .expect("the book"),
            )
            .expect("json"),
            None => report.clone(),
        };
        if let Some((_, _, _, alt)) = shown.iter().find(|(src, ..)| src == "cid:trend-mrr.png") {
            let mrr = metric(&own, "mrr")["value"].as_f64().expect("mrr");
            let shown = format!("{}", (mrr.round() as i64) % 1000);
            assert!(alt.contains("Monthly recurring revenue"), "{alt}");
            assert!(alt.contains(&shown), "{alt} names {mrr}");
        }
    }
    // The leadership summary is shorter than the detailed edition.
    let size = |name: &str| {
        std::fs::metadata(project.out().join("2026-W47/outbox").join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    assert!(size("01-leadership-ceo@example.com.eml") > 0);
    // report.html links its images as files beside it, all present.
    let html = std::fs::read_to_string(project.out().join("2026-W47/report.html")).expect("html");
    for (src, width, height, _) in images(&html) {
        assert!(src.starts_with("images/"), "{src}");
        let png = std::fs::read(project.out().join("2026-W47").join(&src)).expect("image file");
        assert_eq!(png_size(&png), Some((width * 2, height * 2)));
    }
}

#[test]
fn the_html_part_stays_under_gmails_clipping_size_at_scale_10() {
    let project = demo_project("10", "62");
    let config = shipped_config_without_books(&project);
    let output = run(clientpulse()
        .args(["run", "--period", "2026-W47", "--config"])
        .arg(&config));
    assert!(output.status.success(), "{}", stderr(&output));
    for file in eml_files(&project.out().join("2026-W47/outbox")) {
        let bytes = std::fs::read(&file).expect("eml");
        let message = MessageParser::default().parse(&bytes).expect("parsable");
        let html = message.body_html(0).expect("HTML");
        assert!(
            html.len() < 100 * 1024,
            "{}: {} bytes",
            file.display(),
            html.len()
        );
    }
}

#[test]
fn a_data_teams_own_metric_needs_one_sql_file_and_one_benchmark() {
    let project = demo_project("1", "63");
    let queries = project.own_queries();
    std::fs::write(
        queries.join("enterprise_share.sql"),
        "-- id: enterprise_share\n-- version: 1\n-- description: Share of clients in the Enterprise segment\n-- window: as_of_end\n-- unit: fraction\n-- name: Enterprise share\n-- section: Portfolio\n-- format: percent\n-- owner: data-team\nSELECT CAST(COUNT(*) FILTER (WHERE segment = 'Enterprise') AS DOUBLE) / NULLIF(COUNT(*), 0) AS value, COUNT(*) AS sample_size\nFROM clients\nWHERE created_at < $window_end\n",
    )
    .expect("write the query");
    let benchmarks = project.path().join("benchmarks.yaml");
    let mut text = std::fs::read_to_string(&benchmarks).expect("benchmarks");
    text.push_str("\nenterprise_share:\n  direction: higher_is_better\n  source: \"internal target\"\n  target: 0.25\n  watch_band: 0.05\n");
    std::fs::write(&benchmarks, text).expect("write");
    let config = std::fs::read_to_string(project.config())
        .expect("config")
        .replace("  - id: nps\n", "  - id: nps\n  - id: enterprise_share\n");
    std::fs::write(project.config(), config).expect("write");
    assert!(run(&mut project.command(&["lock"])).status.success());
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert!(output.status.success(), "{}", stderr(&output));

    let report = project.report_json("2026-W47");
    let share = metric(&report, "enterprise_share");
    assert_eq!(share["name"], "Enterprise share");
    assert_eq!(share["section"], "Portfolio");
    assert_eq!(share["target"], 0.25);
    assert_ne!(share["status"], "no_benchmark");
    let html = std::fs::read_to_string(project.out().join("2026-W47/report.html")).expect("html");
    let section = html.find(">Portfolio</td>").expect("its section is shown");
    let name = html
        .find(">Enterprise share</td>")
        .expect("its name is shown");
    assert!(name > section, "the metric sits in its section");
    assert!(html.contains("target 25.0 %"));
    assert!(html.contains("src=\"images/trend-enterprise-share.png\""));
}

/// report.html in headless Chromium at phone and desktop widths: every
/// image loads, and nothing is wider than the viewport.
#[test]
fn report_html_holds_up_in_a_browser_at_360_and_1200_px() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "Debian's chromium is not installed: run the tests with `bash .ci/test`, which installs it"
    );
    let project = demo_project("1", "64");
    let config = shipped_config_without_books(&project);
    let output = run(clientpulse()
        .args(["run", "--period", "2026-W47", "--config"])
        .arg(&config));
    assert!(output.status.success(), "{}", stderr(&output));
    let folder = project.out().join("2026-W47");
    // The report has no script of its own. The probe page shows it in a
    // frame exactly `width` pixels wide (headless windows have a minimum
    // width) and measures inside it.
    let probe = |width: u32| {
        format!(
            r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="frame" src="report.html" width="{width}" height="900" style="border:0"></iframe>
<script>
document.getElementById('frame').addEventListener('load', () => {{
  const doc = document.getElementById('frame').contentDocument;
  const width = doc.documentElement.clientWidth;
  const broken = [...doc.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  const wide = [...doc.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1)
    .map(e => e.tagName + (e.id ? '#' + e.id : ''));
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({{width, images: doc.images.length, broken, wide: wide.slice(0, 5)}});
  document.body.appendChild(out);
}});
</script></body></html>"#
        )
    };
    for width in [360, 1200] {
        std::fs::write(folder.join("probe.html"), probe(width)).expect("write");
        let profile = tempfile::tempdir().expect("profile");
        let output = std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--allow-file-access-from-files",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg("--window-size=1300,1000")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("file://{}", folder.join("probe.html").display()))
            .output()
            .expect("chromium runs");
        let dom = String::from_utf8_lossy(&output.stdout);
        let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
        let end = dom[start..].find("</pre>").expect("probe end") + start;
        let result: serde_json::Value =
            serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).expect("probe JSON");
        assert_eq!(result["width"], width, "{result}");
        assert!(result["images"].as_u64().unwrap_or(0) > 10, "{result}");
        assert_eq!(result["broken"], serde_json::json!([]), "{result}");
        assert_eq!(result["wide"], serde_json::json!([]), "{result}");
    }
}
