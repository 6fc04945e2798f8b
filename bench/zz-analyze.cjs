const fs=require('fs');const dir='/tmp/apikeys-prof';const p=JSON.parse(fs.readFileSync(dir+'/'+fs.readdirSync(dir)[0]));
const byId=new Map(p.nodes.map(n=>[n.id,n]));const parent=new Map();for(const n of p.nodes)for(const c of n.children||[])parent.set(c,n.id);
let t=p.startTime;const times=p.timeDeltas.map(d=>t+=d);const cut=p.endTime-6e6;
const dt=new Map();for(let i=0;i<p.samples.length;i++){if(times[i]<cut)continue;dt.set(p.samples[i],(dt.get(p.samples[i])||0)+(p.timeDeltas[i]||0));}
const key=m=>m.callFrame.functionName+" "+m.callFrame.url.split("/").slice(-2).join("/")+":"+m.callFrame.lineNumber;
const incl=new Map(),self=new Map();
for(const n of p.nodes){const tt=dt.get(n.id)||0;if(!tt)continue;self.set(key(n),(self.get(key(n))||0)+tt);const seen=new Set();let id=n.id;while(id!==undefined){const m=byId.get(id);const k=key(m);if(!seen.has(k)){incl.set(k,(incl.get(k)||0)+tt);seen.add(k);}id=parent.get(id);}}
const tot=[...dt.values()].reduce((a,b)=>a+b,0);console.log("total ms",tot/1000);
console.log([...incl.entries()].filter(([k])=>/api-keys|api\/v1|crypto|prom-client|metrics|hooks\.js|context|authenticate|https-only|ids|openapi|batch|hot-path|service|errors/.test(k)).sort((a,b)=>b[1]-a[1]).slice(0,40).map(([k,v])=>(v/tot*100).toFixed(1)+"% "+k).join("\n"));
console.log("--- self");console.log([...self.entries()].sort((a,b)=>b[1]-a[1]).slice(0,30).map(([k,v])=>(v/tot*100).toFixed(1)+"% "+k).join("\n"));
