// The report's style sheet, inlined into every report.html: system fonts only (nothing to
// fetch), a light theme that prints well, and the heat map's rotated column headers.
#include "train/report_sections.h"

namespace whet::train {

const char* report_css() {
  return R"css(
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --panel: #fff; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header .sub { color: var(--muted); font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 13px; word-break: break-all; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 20px 20px; margin-top: 20px; }
section h2 { margin: 0 0 12px; font-size: 18px; }
section h2 .split { font-size: 14px; font-weight: 400; color: var(--muted); }
.notes { background: #fffbeb; border-color: #fcd34d; }
.notes ul { margin: 0; padding-left: 20px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { min-width: 150px; padding: 10px 14px; border: 1px solid var(--line); border-radius: 8px;
  background: #f9fafb; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; }
.card .detail { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 12px; }
figure { margin: 0; }
svg.chart { width: 100%; height: auto; max-width: 640px; display: block; }
svg.chart .bg { fill: #fff; }
svg.chart text { font: 12px system-ui, -apple-system, "DejaVu Sans", sans-serif; fill: #374151; }
svg.chart .title { font-size: 14px; font-weight: 600; fill: var(--fg); }
svg.chart .legend { font-size: 12px; }
svg.chart .label { fill: var(--muted); }
svg.chart .empty { fill: var(--muted); font-style: italic; }
svg.chart .grid line { stroke: #eef0f3; stroke-width: 1; }
svg.chart .axis rect { stroke: #9ca3af; stroke-width: 1; }
.cm-wrap { overflow-x: auto; }
table.cm { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.cm td { width: 44px; height: 34px; text-align: center; border: 1px solid #f1f5f9;
  font-size: 13px; }
table.cm th { font-weight: 500; font-size: 12px; color: #374151; }
table.cm th.row { text-align: right; padding-right: 8px; white-space: nowrap; }
table.cm th.col { vertical-align: bottom; padding-bottom: 6px; height: 110px; }
table.cm th.col span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap;
  display: inline-block; max-height: 150px; overflow: hidden; text-overflow: ellipsis; }
table.cm th.corner { color: var(--muted); font-size: 11px; vertical-align: bottom;
  text-align: right; padding: 0 8px 6px 0; }
table.cm .total { color: var(--muted); font-size: 12px; padding-left: 8px; border: none; }
table.cm.compact td { width: 12px; height: 12px; font-size: 0; }
table.cm.compact th.col { height: 90px; font-size: 10px; }
table.cm.compact th.row { font-size: 10px; }
p.legend { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  vertical-align: -2px; margin-left: 6px; }
table.data { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.data th, table.data td { padding: 4px 10px; border-bottom: 1px solid var(--line);
  text-align: left; }
table.data thead th { font-size: 12px; color: var(--muted); font-weight: 600;
  text-transform: uppercase; letter-spacing: .04em; }
table.data td.num { text-align: right; white-space: nowrap; }
.bar { display: inline-block; width: 56px; height: 8px; background: #eef0f3; border-radius: 4px;
  margin-right: 8px; vertical-align: middle; overflow: hidden; }
.bar div { height: 100%; border-radius: 4px; }
table.config td.key { font-family: ui-monospace, "DejaVu Sans Mono", monospace; color: #374151; }
table.config td.value { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  word-break: break-all; }
table.config tr.section th { padding-top: 12px; font-size: 13px; color: #1d4ed8; }
/* The heat map and the per-class table side by side when both fit, else one above the other. */
.two { display: flex; flex-wrap: wrap; gap: 20px 40px; align-items: flex-start; }
.two > div { flex: 0 1 auto; max-width: 100%; overflow-x: auto; }
h3 { font-size: 15px; margin: 4px 0 10px; }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } section { break-inside: avoid; } }
)css";
}

}  // namespace whet::train
