-- Token buckets: checks of each key in KEYS, in order; each KEYS[i] is a hash
-- (fields tokens, last_refill). ARGV: rate (tokens per second), burst (bucket
-- size), cost, the same for every key of the call, then one count per key:
-- KEYS[i] gets ARGV[3 + i] checks in a row (the checks of one key coalesced).
-- Mirrors aragora_redis/_bucket.py take() step for step; change both together:
-- the checks of one key after the first see the same clock, so they refill
-- nothing and each takes cost from what the one before left, as take() does for
-- checks at one time (the tokens stored as %.17g read back as the same number).
-- Returns per key {taken, tokens_left}, and for a key of more than one check also
-- the tokens before its first check: taken is how many were admitted (always the
-- first ones: the tokens only go down; for one check 1 or 0), the tokens are
-- strings since Redis would truncate a Lua number; the client derives each
-- check's tokens left and retry_after (_bucket.py).
-- Written for speed: no math.* calls, one float formatted per key of one check,
-- the stamp stored is TIME's own text, and a denied check writes nothing
-- (refilling is linear, so the stored state already says the same).
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local stamp = clock[1] .. '.' .. string.sub('00000', #clock[2]) .. clock[2]
local now = tonumber(stamp)
local out = {}
local at = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local checks = tonumber(ARGV[3 + i])
  local saved = redis.call('HMGET', key, 'tokens', 'last_refill')
  local tokens = tonumber(saved[1])
  local last_refill = tonumber(saved[2])
  local kept = stamp
  local ahead = 0
  if tokens == nil or last_refill == nil then
    tokens = burst
  elseif now > last_refill then
    tokens = tokens + (now - last_refill) * rate
  else
    -- A new master's clock may lag the old one's: never count time backwards.
    kept = saved[2]
    ahead = last_refill - now
  end
  if tokens > burst then
    tokens = burst
  end
  local before = tokens
  local taken = 0
  while taken < checks and tokens >= cost do
    tokens = tokens - cost
    taken = taken + 1
  end
  local left = string.format('%.17g', tokens)
  out[at + 1] = taken
  out[at + 2] = left
  at = at + 2
  if checks > 1 then
    at = at + 1
    out[at] = string.format('%.17g', before)
  end
  if taken > 0 then
    local ttl_ms = math.ceil((ahead + (burst - tokens) / rate) * 1000)
    if ttl_ms < 1 then
      ttl_ms = 1
    elseif ttl_ms > 315360000000 then
      ttl_ms = 315360000000
    end
    redis.call('HSET', key, 'tokens', left, 'last_refill', kept)
    redis.call('PEXPIRE', key, ttl_ms)
  end
end
return out
