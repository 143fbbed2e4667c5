-- A durable event in one command: appended to its channel's stream (capped at about
-- ARGV[3] entries), then published to the live subscribers. One command, so that on a
-- cluster (whose pipelines refuse PUBLISH) it is routed, retried and bounded as one call.
-- KEYS[1] the stream; ARGV[1] the channel; ARGV[2] the event; ARGV[3] the stream's cap.
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[2])
return redis.call('PUBLISH', ARGV[1], ARGV[2])
