//! The viewer page: header with the run summary, the score chart, the task and one card
//! per step. Inline CSS and JS only; every trajectory string is HTML-escaped.

use super::chart::score_chart;
use super::{format_score, ScorePoint, ViewData};
use crate::report::html::{escape, BASE_CSS};

/// Observations longer than this start collapsed.
const LONG_OBSERVATION: usize = 4000;

const VIEW_CSS: &str = r#"
header.run { position: sticky; top: 0; background: #fff; z-index: 2; padding: 8px 0;
             border-bottom: 1px solid var(--line); }
.badges > span { display: inline-block; margin: 2px 6px 2px 0; padding: 2px 8px; border-radius: 10px;
               background: var(--soft); border: 1px solid var(--line); font-size: 12.5px; }
.badges b { font-weight: 600; }
.toolbar { margin: 12px 0; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.toolbar input { padding: 4px 8px; min-width: 260px; }
.step { border: 1px solid var(--line); border-radius: 6px; margin: 10px 0; padding: 6px 10px; }
.step h3 { font-size: 14px; margin: 2px 0 6px; }
.step h3 code { font-weight: 400; }
.label { font-size: 11.5px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin-top: 6px; }
.score { color: #1a7f37; font-weight: 600; }
.state { font-size: 11.5px; color: var(--muted); }
pre.action { background: #eef4ff; }
"#;

const VIEW_JS: &str = r#"
(function () {
  var steps = Array.prototype.slice.call(document.querySelectorAll('section.step'));
  var filter = document.getElementById('filter');
  var shown = document.getElementById('shown');
  function update() {
    var q = filter.value.toLowerCase();
    var n = 0;
    steps.forEach(function (s) {
      var ok = !q || s.textContent.toLowerCase().indexOf(q) >= 0;
      s.style.display = ok ? '' : 'none';
      if (ok) { n++; }
    });
    shown.textContent = n + ' of ' + steps.length + ' steps shown';
  }
  function setAll(open) {
    document.querySelectorAll('section.step details').forEach(function (d) { d.open = open; });
  }
  filter.addEventListener('input', update);
  document.getElementById('expand').addEventListener('click', function () { setAll(true); });
  document.getElementById('collapse').addEventListener('click', function () { setAll(false); });
  update();
})();
"#;

fn badge(label: &str, value_html: &str) -> String {
    format!("<span><b>{}</b> {}</span>", escape(label), value_html)
}

fn metrics_text(m: &crate::report::collect::Metrics) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}: {}", format_score(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn score_line(data: &ViewData, s: &ScorePoint) -> String {
    let main = data
        .primary_of(&s.metrics)
        .map(|v| {
            format!(
                "{} = {}",
                data.primary.as_ref().map_or("", |p| p.0.as_str()),
                format_score(v)
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"score\">{} score: {} <span class=\"muted\">({})</span></div>",
        escape(&s.kind),
        escape(&main),
        escape(&metrics_text(&s.metrics))
    )
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Renders the viewer page for `data`.
pub fn render_html(data: &ViewData) -> String {
    let mut b = String::new();
    b.push_str("<header class=\"run\">");
    b.push_str(&format!("<h1>{}</h1>", escape(&data.title)));
    b.push_str("<div class=\"badges\">");
    let na = "<span class=\"muted\">unknown</span>".to_string();
    b.push_str(&badge(
        "Task",
        &data
            .task
            .as_deref()
            .map(escape)
            .unwrap_or_else(|| na.clone()),
    ));
    b.push_str(&badge(
        "Model",
        &data
            .model
            .as_deref()
            .map(escape)
            .unwrap_or_else(|| na.clone()),
    ));
    b.push_str(&badge(
        "Exit status",
        &format!(
            "<span id=\"exit-status\">{}</span>",
            data.exit_status
                .as_deref()
                .map(|s| if s.is_empty() {
                    "(empty)".to_string()
                } else {
                    escape(s)
                })
                .unwrap_or_else(|| na.clone())
        ),
    ));
    b.push_str(&badge(
        "Steps",
        &format!("<span id=\"step-count\">{}</span>", data.steps.len()),
    ));
    let metric = data
        .primary
        .as_ref()
        .map(|p| p.0.as_str())
        .unwrap_or("score");
    b.push_str(&badge(
        &format!("Final {metric}"),
        &format!(
            "<span id=\"final-score\">{}</span>",
            data.final_score()
                .map(format_score)
                .map(|s| escape(&s))
                .unwrap_or_else(|| "none".into())
        ),
    ));
    b.push_str(&badge(
        &format!("Best {metric}"),
        &format!(
            "<span id=\"best-score\">{}</span>",
            data.best_score()
                .map(format_score)
                .map(|s| escape(&s))
                .unwrap_or_else(|| "none".into())
        ),
    ));
    if let Some(v) = data.baseline.get(metric) {
        b.push_str(&badge("Baseline", &escape(&format_score(*v))));
    }
    b.push_str(&badge("Evaluations", &data.scores.len().to_string()));
    if let Some(c) = data.stats.total_cost {
        b.push_str(&badge("Cost", &format!("${c:.4}")));
    }
    if let (Some(s), Some(r)) = (data.stats.tokens_sent, data.stats.tokens_received) {
        b.push_str(&badge("Tokens", &format!("{s} sent / {r} received")));
    }
    if let Some(s) = &data.submission {
        b.push_str(&badge("Submission", &escape(s)));
    }
    b.push_str("</div></header>");

    b.push_str("<h2>Scores over steps</h2>");
    b.push_str(&score_chart(data));
    b.push_str(
        "<p class=\"muted\">Blue: validate · green: submit · amber: autosubmission · dashed: \
         baseline. Points link to their step.</p>",
    );

    b.push_str("<h2>Task</h2>");
    match &data.task_prompt {
        Some(p) => b.push_str(&format!(
            "<details><summary>Task prompt ({} characters)</summary><pre>{}</pre></details>",
            p.chars().count(),
            escape(p)
        )),
        None => b.push_str("<p class=\"muted\">The trajectory has no task prompt.</p>"),
    }
    if let Some(p) = &data.system_prompt {
        b.push_str(&format!(
            "<details><summary>System prompt ({} characters)</summary><pre>{}</pre></details>",
            p.chars().count(),
            escape(p)
        ));
    }

    b.push_str("<h2>Steps</h2>");
    b.push_str(
        "<div class=\"toolbar\"><input id=\"filter\" type=\"search\" placeholder=\"Filter steps by text…\">\
         <button id=\"expand\" type=\"button\">Expand all</button>\
         <button id=\"collapse\" type=\"button\">Collapse all</button>\
         <span id=\"shown\" class=\"muted\"></span></div>",
    );
    for (i, s) in data.steps.iter().enumerate() {
        let n = i + 1;
        b.push_str(&format!("<section class=\"step\" id=\"step-{n}\">"));
        let time = s
            .execution_time
            .map(|t| format!(" <span class=\"muted\">· {t:.2} s</span>"))
            .unwrap_or_default();
        b.push_str(&format!(
            "<h3>Step {n} · <code>{}</code>{time}</h3>",
            escape(first_line(&s.action))
        ));
        for sp in data.scores.iter().filter(|p| p.step == Some(n)) {
            b.push_str(&score_line(data, sp));
        }
        if !s.state.is_empty() {
            b.push_str(&format!(
                "<div class=\"state\">state: {}</div>",
                escape(&s.state)
            ));
        }
        if !s.thought.trim().is_empty() {
            b.push_str(&format!(
                "<div class=\"label\">Thought</div><pre>{}</pre>",
                escape(s.thought.trim_end())
            ));
        }
        b.push_str(&format!(
            "<div class=\"label\">Action</div><pre class=\"action\">{}</pre>",
            escape(s.action.trim_end())
        ));
        let open = if s.observation.len() > LONG_OBSERVATION {
            ""
        } else {
            " open"
        };
        b.push_str(&format!(
            "<details{open}><summary class=\"label\">Observation ({} lines)</summary><pre>{}</pre></details>",
            s.observation.lines().count(),
            if s.observation.is_empty() {
                "<span class=\"muted\">(empty)</span>".to_string()
            } else {
                escape(&s.observation)
            }
        ));
        b.push_str("</section>");
    }
    let unplaced: Vec<&ScorePoint> = data.scores.iter().filter(|p| p.step.is_none()).collect();
    if !unplaced.is_empty() {
        b.push_str("<h2>Evaluations not matched to a step</h2>");
        for sp in unplaced {
            b.push_str(&score_line(data, sp));
        }
    }
    b.push_str(&format!(
        "<p class=\"muted\">Source: {}</p>",
        escape(&data.source.display().to_string())
    ));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · mlgym view</title><style>{BASE_CSS}{VIEW_CSS}</style></head>\
         <body>{b}<script>{VIEW_JS}</script></body></html>\n",
        escape(&data.title)
    )
}
