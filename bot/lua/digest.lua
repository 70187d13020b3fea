-- The coordinators' digest window, one atomic step per call, so concurrent workers never send two
-- digests in one window, never lose a count, and a retried note counts once (bot/dispatch/digest.py).
-- KEYS: pending (hash: n:<kind> counts, r:<kind> refs, total, since, detail, sealed, detail2, sealed2, ... up to
--   full_max), last (when the
--   last digest went), due (when the scheduled flush runs), inflight (the batch being sent),
--   inflight_id, event (the note's idempotency marker; unused unless a.event ~= '')
-- args: mode ('note' | 'take' | 'done'), now, window_s, keep_s (pending/inflight TTL), grace_s (how long
--   past its time a `due` mark outlives a flush that never ran), and
--   note: kind, ref, detail, sealed, event, event_ttl_s, refs_max, full_max;  take: batch_id, stale_s;
--   done: batch_id
-- Returns  note: {'seen'|'batched'|'scheduled', due};  take: {'send'|'resend', id, fields...} | {'early', at}
--   | {'busy'} (another sender or flush has it) | {'empty'};  done: 1 when the batch was still the one in flight.
local a = cjson.decode(ARGV[1])
local pending, last, due, inflight, inflight_id = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, window, keep = tonumber(a.now), tonumber(a.window_s), tonumber(a.keep_s)


if a.mode == 'note' then
  if a.event ~= '' and not redis.call('SET', KEYS[6], '1', 'NX', 'EX', a.event_ttl_s) then
    return {'seen', redis.call('GET', due) or ''}
  end
  redis.call('HINCRBY', pending, 'n:' .. a.kind, 1)
  local total = redis.call('HINCRBY', pending, 'total', 1)
  if total == 1 then
    redis.call('HSET', pending, 'since', a.now)
    -- a batch of one (or of up to full_max) is told in full; the texts are kept only until that batch is sent
    if a.detail ~= '' then redis.call('HSET', pending, 'detail', a.detail, 'sealed', a.sealed) end
  elseif total <= tonumber(a.full_max or 1) and a.detail ~= '' then
    redis.call('HSET', pending, 'detail' .. total, a.detail, 'sealed' .. total, a.sealed)
  end
  if a.ref ~= '' then
    local refs = redis.call('HGET', pending, 'r:' .. a.kind) or ''
    local shown = 0
    for _ in string.gmatch(refs, '[^,]+') do shown = shown + 1 end
    if shown < a.refs_max then
      if refs ~= '' then refs = refs .. ',' end
      redis.call('HSET', pending, 'r:' .. a.kind, refs .. a.ref)
    end
  end
  redis.call('EXPIRE', pending, keep)
  local d = redis.call('GET', due)
  if d then return {'batched', d} end
  -- the first event of a quiet period goes at once; later ones when the minute since the last digest ends
  local at = math.max(now, tonumber(redis.call('GET', last) or '0') + window)
  redis.call('SET', due, string.format('%.3f', at), 'EX', math.ceil(at - now) + a.grace_s)
  return {'scheduled', string.format('%.3f', at)}
end

local function fields(key)
  return redis.call('HGETALL', key)
end

if a.mode == 'take' then
  local held = redis.call('GET', inflight_id)
  if held then
    local taken = tonumber(redis.call('HGET', inflight, 'taken_at') or '0')
    if held ~= a.batch_id and now - taken < a.stale_s then return {'busy'} end
    -- this job's own retry, or a batch whose sender died: send it again (send records keep it once)
    local out = {'resend', held}
    for _, v in ipairs(fields(inflight)) do table.insert(out, v) end
    return out
  end
  local l = tonumber(redis.call('GET', last) or '0')
  if now < l + window then
    if redis.call('EXISTS', due) == 1 then return {'busy'} end  -- another flush is already scheduled
    local at = string.format('%.3f', l + window)
    redis.call('SET', due, at, 'EX', math.ceil(l + window - now) + a.grace_s)
    return {'early', at}
  end
  if redis.call('EXISTS', pending) == 0 then
    redis.call('DEL', due)
    return {'empty'}
  end
  redis.call('RENAME', pending, inflight)
  redis.call('HSET', inflight, 'taken_at', a.now)
  redis.call('EXPIRE', inflight, keep)
  redis.call('SET', inflight_id, a.batch_id, 'EX', keep)
  redis.call('SET', last, a.now, 'EX', window * 2)
  redis.call('DEL', due)
  local out = {'send', a.batch_id}
  for _, v in ipairs(fields(inflight)) do table.insert(out, v) end
  return out
end

if a.mode == 'done' then
  if redis.call('GET', inflight_id) == a.batch_id then
    redis.call('DEL', inflight, inflight_id)
    return 1
  end
  return 0
end
return redis.error_reply('digest: unknown mode ' .. tostring(a.mode))
