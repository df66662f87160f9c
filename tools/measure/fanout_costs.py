# Summarises tools/measure/fanout_costs.sh OUTDIR: broker deliveries and unacked, CPU and syscalls per delivery.
import json,sys,collections,re
d=sys.argv[1]
def load(f):
    P={};T={};ALL=None;ts=None
    for l in open(f):
        s=l.split()
        if s[0]=='P': P[s[1]]=int(s[2])+int(s[3])
        elif s[0]=='T': T[s[1]]=int(s[2])+int(s[3])
        elif s[0]=='ALL': ALL=list(map(int,s[2:]))
        else: ts=float(s[0])
    return P,T,ALL,ts
b=load(d+'/before');a=load(d+'/after')
secs=a[3]-b[3]
tot=sum(a[2])-sum(b[2]); idle=(a[2][3]+a[2][4])-(b[2][3]+b[2][4])
def chstats(f):
    # summed per connection (chatd's update consumers may use many channels)
    r={}
    for c in json.load(open(f)):
        ms=c.get('message_stats',{}); conn=c['name'].rsplit(' (',1)[0]
        o=r.get(conn,(0,0,0,0,c.get('prefetch_count'),c.get('global_prefetch_count'),0))
        r[conn]=(o[0]+(c.get('consumer_count') or 0),o[1]+(c.get('messages_unacknowledged') or 0),o[2]+ms.get('deliver_get',0),o[3]+ms.get('ack',0),o[4],o[5],o[6]+(1 if (c.get('consumer_count') or 0)>0 else 0))
    return r
cb=chstats(d+'/channels-before.json'); ca=chstats(d+'/channels-after.json')
main=max(ca,key=lambda k:ca[k][0] or 0)
delivered=ca[main][2]-cb.get(main,(0,0,0,0))[2]; acked=ca[main][3]-cb.get(main,(0,0,0,0))[3]
print(f"window {secs:.1f} s; machine busy {100*(tot-idle)/tot:.0f}%; broker->chatd deliveries {delivered} ({delivered/secs:.0f}/s), acks {acked}; unacked at end {ca[main][1]} over {ca[main][0]} consumers on {ca[main][6]} channels; prefetch {ca[main][4]} global {ca[main][5]}")
names=dict(zip(['chatd','bench','beam','sim'],open(d+'/pids').read().split()))
pid2n={v.split('=')[1]:v.split('=')[0] for v in names.values()}
for p in a[0]:
    c=(a[0][p]-b[0][p])/100
    print(f"{pid2n[p]:6} cpu {100*c/secs:5.1f}%  {1000*c/max(delivered,1):.3f} ms/delivery")
agg=collections.Counter()
for t in a[1]:
    dlt=a[1][t]-b[1].get(t,0); agg[t.split(':',1)[1]]+=dlt
for n,v in agg.most_common(): print(f"  chatd threads {n}: {v/secs:.1f}%")
for f in ['chatd-syscalls.txt','bench-syscalls.txt','beam-syscalls.txt']:
    tot=0; per=collections.Counter()
    for l in open(d+'/'+f):
        m=re.match(r'\s*(\S+)-(\d+)\s+([\d,]+)\s+raw_syscalls',l)
        if m: per[m.group(1)]+=int(m.group(3).replace(',','')); tot+=int(m.group(3).replace(',',''))
        m=re.match(r'\s*([\d,]+)\s+raw_syscalls',l)
        if m: tot+=int(m.group(1).replace(',',''))
    print(f"{f}: {tot} syscalls, {tot/max(delivered,1):.2f} per delivery", dict(per.most_common(6)) if per else "")
