-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
DROP TABLE clients
