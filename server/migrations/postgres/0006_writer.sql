-- Who wrote a document last, so a pull need not read the change log to
-- know that every change a device lacks of a document is its own (its
-- own changes are not echoed back, and right after a grid's push that is
-- every document of the page).
--
-- writer:        the device that pushed the document's latest changes
--                (NULL: the server, or written before this column);
-- writer_after:  the seq of the document's last change from anyone else
--                (0: none); every change after it is the writer's.
ALTER TABLE docs ADD COLUMN writer TEXT;
ALTER TABLE docs ADD COLUMN writer_after BIGINT NOT NULL DEFAULT 0;
