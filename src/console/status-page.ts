/** A plain status page until the console lands: what runs here, its readiness, and a form to ask for an ETA. */
export function statusPage(name: string, modules: readonly string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>etaserve</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:2rem auto;padding:0 1rem;color:#1b1f24}
code,pre,textarea,input{font:13px ui-monospace,monospace} pre{background:#f4f5f7;padding:.8rem;overflow:auto}
label{display:block;margin:.4rem 0} input{width:18rem} .ok{color:#0a7d33} .bad{color:#b42318}
</style></head><body>
<h1>etaserve</h1>
<p>Process <code>${name}</code> runs: ${modules.map((m) => `<code>${m}</code>`).join(', ')}.
Readiness: <span id="ready">…</span>. API docs: <a href="/docs">/docs</a>. Metrics: <a href="/metrics">/metrics</a>.</p>
<h2>Ask for an ETA</h2>
<form id="eta">
<label>API key <input name="key" required placeholder="the demo key printed at start"></label>
<label>Store id <input name="store" value="s-0001" required></label>
<label>Destination lat <input name="lat" value="48.8600" required></label>
<label>Destination lng <input name="lng" value="2.3470" required></label>
<button>Get ETA</button></form>
<pre id="out"></pre>
<script>
fetch('/readyz').then(r=>r.json()).then(j=>{const e=document.getElementById('ready');e.textContent=j.ready?'ready':'not ready: '+j.reasons.join(', ');e.className=j.ready?'ok':'bad'});
document.getElementById('eta').addEventListener('submit',async ev=>{ev.preventDefault();const f=new FormData(ev.target);
const r=await fetch('/v1/eta',{method:'POST',headers:{'content-type':'application/json',authorization:'Bearer '+f.get('key')},
body:JSON.stringify({store_id:f.get('store'),destination:{lat:Number(f.get('lat')),lng:Number(f.get('lng'))}})});
document.getElementById('out').textContent=r.status+'\\n'+JSON.stringify(await r.json(),null,2)});
</script></body></html>`;
}
