-- Compare-and-set of one JSON document, for the optimistic update of debate state.
-- KEYS[1]  the document
-- ARGV[1]  the value the caller read ('' when the key was missing; documents are never '')
-- ARGV[2]  the new value
-- ARGV[3]  TTL in seconds
-- Returns 1 when written, 0 when the document changed since it was read.
local current = redis.call('GET', KEYS[1])
if current == false then
  current = ''
end
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
