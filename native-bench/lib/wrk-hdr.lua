-- wrk -s native-bench/lib/wrk-hdr.lua: after the run, prints wrk's latency distribution at a fine
-- list of percentiles ("HDR <percentile> <µs>" lines, and "HDR-TOTAL <requests>"), which
-- proxy-compare.mjs reads into an HDR histogram (lib/hdr-report.mjs).
done = function(summary, latency, requests)
  local ps = {}
  for p = 1, 99 do ps[#ps + 1] = p end
  for i = 1, 9 do ps[#ps + 1] = 99 + i / 10 end
  for i = 1, 9 do ps[#ps + 1] = 99.9 + i / 100 end
  for i = 1, 9 do ps[#ps + 1] = 99.99 + i / 1000 end
  io.write(string.format("HDR-TOTAL %d\n", summary.requests))
  io.write(string.format("HDR 0 %d\n", latency.min))
  for _, p in ipairs(ps) do
    io.write(string.format("HDR %.3f %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("HDR 100 %d\n", latency.max))
end
