"""aragora_redis: highly available Redis for Aragora."""
