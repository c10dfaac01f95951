-- Facilitators' rooms (an owner account) are of kind 'chat'.
INSERT INTO room_kinds (kind) VALUES ('chat');
UPDATE rooms SET kind = 'chat' WHERE owner_id IS NOT NULL;
