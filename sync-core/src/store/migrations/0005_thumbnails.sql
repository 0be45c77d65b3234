-- Thumbnails the server made of report photos (JPEG, at most 256 pixels a
-- side), kept once downloaded so that lists show them offline and do not
-- fetch them again. Named like the photo they show; removed with the
-- photos no report on the device lists any more.
CREATE TABLE thumbnails (
    hash        TEXT PRIMARY KEY,
    data        BLOB NOT NULL,
    fetched_at  INTEGER NOT NULL
) WITHOUT ROWID;
