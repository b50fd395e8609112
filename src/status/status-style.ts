/**
 * The status page's stylesheet, served from the gateway (`/status/assets/status.css`): no
 * CDN, no web fonts. Light and dark follow `prefers-color-scheme`; numbers use tabular
 * figures and cells have fixed widths so live updates never move the layout.
 */
export const STATUS_CSS = `
:root{color-scheme:light dark;
  --bg:#f5f6f8;--card:#fff;--text:#1b1f24;--muted:#5b6470;--line:#dde1e6;--accent:#2f6fdf;--accent-text:#fff;
  --ok:#1a7f37;--ok-bg:#e6f4ea;--warn:#9a6700;--warn-bg:#fff4d6;--bad:#c62828;--bad-bg:#fdecea;--idle:#6e7781;--idle-bg:#eef0f2;
  --fresh:#2da44e;--recent:#58a6ff;--aging:#d4a72c;--old:#cf5b4d;--track:#eef0f3;--spark:#2f6fdf;--spark-area:rgba(47,111,223,.14)}
@media (prefers-color-scheme:dark){:root{
  --bg:#0f1216;--card:#181c22;--text:#e4e8ee;--muted:#9aa4b1;--line:#2b313a;--accent:#5b9cff;--accent-text:#0b1220;
  --ok:#4ac26b;--ok-bg:#12301c;--warn:#e3b341;--warn-bg:#33290d;--bad:#ff7b72;--bad-bg:#3d1614;--idle:#9aa4b1;--idle-bg:#242a32;
  --fresh:#3fb950;--recent:#58a6ff;--aging:#d29922;--old:#f0786c;--track:#232932;--spark:#5b9cff;--spark-area:rgba(91,156,255,.18)}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--text);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
body{margin:0;min-height:100vh}
a{color:var(--accent)}
code{font:13px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--card);padding:.5rem;z-index:2}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.75rem 1.25rem;background:var(--card);border-bottom:1px solid var(--line)}
header.top h1{font-size:1.15rem;margin:0;margin-right:auto}
header.top h1 small{color:var(--muted);font-weight:400;font-size:.8rem;margin-left:.4rem}
.live{display:inline-flex;align-items:center;gap:.35rem;font-size:.85rem;color:var(--muted);min-width:11.5rem;font-variant-numeric:tabular-nums}
.live::before{content:"";width:.6rem;height:.6rem;border-radius:50%;background:var(--idle)}
.live.on::before{background:var(--ok)}.live.off::before{background:var(--bad)}
main{padding:1rem 1.25rem 2rem;max-width:1400px;margin:0 auto}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1rem}
.wide{grid-column:1/-1}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.9rem 1rem;min-width:0}
.card h2{font-size:1rem;margin:0 0 .6rem}
.card h3{font-size:.85rem;margin:.8rem 0 .3rem;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.big{font-size:1.05rem;margin:.2rem 0 .4rem}
.muted{color:var(--muted)}.small{font-size:.8rem}
.empty{color:var(--muted);font-style:italic}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:.75rem;margin:0}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.6rem .8rem;min-height:4.6rem}
.tile dt{font-size:.78rem;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.tile dd{margin:.15rem 0 0;font-size:1.45rem;font-weight:650;font-variant-numeric:tabular-nums;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tile dd small{font-size:.8rem;font-weight:400;color:var(--muted)}
.tile.bad{border-color:var(--bad);background:var(--bad-bg)}.tile.bad dd{color:var(--bad)}
.scroll{overflow-x:auto}
.scroll:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:.78rem;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
tbody th{font-weight:600}
td.num{text-align:right;white-space:nowrap;min-width:5.5rem}
th.num{text-align:right}
tr.self th code{font-weight:700}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:99px;font-size:.8rem;font-weight:600;white-space:nowrap}
.badge.ok{color:var(--ok);background:var(--ok-bg)}.badge.warn{color:var(--warn);background:var(--warn-bg)}
.badge.bad{color:var(--bad);background:var(--bad-bg)}.badge.idle{color:var(--idle);background:var(--idle-bg)}
tr.state-failing,tr.state-disabled,tr.health-down{background:var(--bad-bg)}
tr.state-failing th .url,tr.state-disabled th .url{color:var(--bad)}
.warn-text{color:var(--bad);font-weight:650}
.url{word-break:break-all}
.chart{margin:0}
svg.bars{width:100%;max-width:30rem;height:auto;display:block}
.chart-label,.chart-value{font-size:12px;fill:var(--text);font-variant-numeric:tabular-nums}
.chart-track{fill:var(--track)}
.bar.fresh{fill:var(--fresh)}.bar.recent{fill:var(--recent)}.bar.aging{fill:var(--aging)}.bar.old{fill:var(--old)}
svg.spark{display:block;overflow:visible}
.spark-line{fill:none;stroke:var(--spark);stroke-width:1.5;stroke-linejoin:round}
.spark-area{fill:var(--spark-area);stroke:none}
.spark-row{display:flex;align-items:center;gap:.6rem;margin:.3rem 0}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.6rem 0 0;font-size:.9rem}
.facts dt{color:var(--muted)}.facts dd{margin:0;overflow-wrap:anywhere}
form.control{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;margin-top:.8rem;padding-top:.8rem;border-top:1px solid var(--line)}
form.inline{display:inline}
form.inline button{padding:.15rem .6rem;font-size:.85rem}
label{font-size:.9rem}
select,input,button{font:inherit;color:inherit}
select,input{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.35rem .5rem}
button{background:var(--accent);color:var(--accent-text);border:0;border-radius:6px;padding:.35rem .8rem;font-weight:600;cursor:pointer}
button.secondary{background:transparent;color:var(--text);border:1px solid var(--line)}
button:focus-visible,select:focus-visible,input:focus-visible,summary:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
button[aria-disabled=true]{opacity:.6;cursor:progress}
details.dead{margin-top:.8rem;border:1px solid var(--line);border-radius:8px;padding:.4rem .7rem}
details.dead summary{cursor:pointer;font-weight:600}
details.dead ul{list-style:none;margin:.4rem 0 0;padding:0}
li.dead-letter{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem;padding:.3rem 0;border-top:1px solid var(--line)}
main{outline:none}
.bar-row{display:flex;align-items:center}
.sr-title{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.who{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem .6rem;margin:0 0 .4rem;color:var(--muted);font-size:.9rem}
#notice{min-height:1.6rem;margin:0 0 .6rem;font-size:.9rem}
#notice.error{color:var(--bad)}#notice.ok{color:var(--ok)}
.signin{max-width:26rem;margin:12vh auto;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.5rem}
.signin h2{margin-top:0}
.signin input{width:100%;margin:.3rem 0 .8rem}
.signin .error{color:var(--bad);min-height:1.4rem;margin:.5rem 0 0}
@media (max-width:820px){
  .grid{grid-template-columns:minmax(0,1fr)}
  main{padding:.75rem}
  header.top{padding:.6rem .75rem}
  .live{min-width:0}
  .tiles{grid-template-columns:repeat(2,minmax(0,1fr))}
  .tile dd{font-size:1.2rem}
  .scroll table,.scroll thead,.scroll tbody,.scroll tr,.scroll th,.scroll td{display:block}
  .scroll thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
  .scroll tr{border:1px solid var(--line);border-radius:8px;margin:.5rem 0;padding:.25rem .6rem}
  .scroll tbody th{border:0;padding:.35rem 0;overflow-wrap:anywhere}
  .scroll td,.scroll td.num{border:0;border-top:1px solid var(--line);padding:.35rem 0;text-align:right;min-width:0;white-space:normal}
  .scroll td::before{content:attr(data-label);float:left;margin-right:1rem;color:var(--muted);font-size:.78rem;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
  .scroll td svg.spark{display:inline-block}
}
@media (prefers-reduced-motion:no-preference){.badge,.tile{transition:background-color .3s,color .3s}}
`;
