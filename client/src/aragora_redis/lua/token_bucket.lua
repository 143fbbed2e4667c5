-- Token buckets: one check of each key in KEYS, in order; each KEYS[i] is a hash
-- (fields tokens, last_refill). ARGV: rate (tokens per second), burst (bucket
-- size), cost, the same for every key of the call. One key is a single check,
-- many keys a batch.
-- Mirrors aragora_redis/_bucket.py take() step for step; change both together.
-- Returns {allowed_1 (1 or 0), tokens_left_1, allowed_2, ...}, the tokens left as
-- strings since Redis would truncate a Lua number; the client derives retry_after.
-- Written for speed: no math.* calls, one float formatted per key, the stamp stored
-- is TIME's own text, and a denied check writes nothing (refilling is linear, so
-- the stored state already says the same).
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local stamp = clock[1] .. '.' .. string.sub('00000', #clock[2]) .. clock[2]
local now = tonumber(stamp)
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
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
  if tokens < cost then
    out[2 * i - 1] = 0
    out[2 * i] = string.format('%.17g', tokens)
  else
    tokens = tokens - cost
    local left = string.format('%.17g', tokens)
    local ttl_ms = math.ceil((ahead + (burst - tokens) / rate) * 1000)
    if ttl_ms < 1 then
      ttl_ms = 1
    elseif ttl_ms > 315360000000 then
      ttl_ms = 315360000000
    end
    redis.call('HSET', key, 'tokens', left, 'last_refill', kept)
    redis.call('PEXPIRE', key, ttl_ms)
    out[2 * i - 1] = 1
    out[2 * i] = left
  end
end
return out
