-- Move a web chat to its next cookie generation when a post carries the current one.
-- KEYS[1] the chat's record (hash: gen, prev_gen, prev_msg); ARGV[1] {gen, msg, ttl}.
-- A post with the generation just before, carrying the same message as the post that
-- moved it on, is a phone resending after it lost the answer: it is let through too.
-- Returns the new generation, or -1 when the cookie is stale (a copy another browser holds).
local a = cjson.decode(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'gen'))
if cur == nil then
  if a.gen ~= 0 then
    return -1 -- expired or erased: only a never-used cookie starts a record
  end
  cur = 0
end
if a.gen == cur then
  redis.call('HSET', KEYS[1], 'gen', cur + 1, 'prev_gen', cur, 'prev_msg', a.msg)
elseif a.gen == tonumber(redis.call('HGET', KEYS[1], 'prev_gen')) and a.msg == redis.call('HGET', KEYS[1], 'prev_msg') then
  redis.call('HSET', KEYS[1], 'gen', cur + 1)
else
  return -1
end
redis.call('EXPIRE', KEYS[1], a.ttl)
return cur + 1
