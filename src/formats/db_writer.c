/*
 * db_writer.c - the "database" output format: a name such as
 * sqlite:out.db?table=t or postgres://u@h/db?table=t (io/db.h) picks the
 * SQLite or the PostgreSQL writer.  create() replaces w->type by the chosen
 * writer's type, so every later call goes straight to it.
 */
#include "formats/format.h"
#include "io/db.h"

static int db_create(sl_writer *w)
{
    if (!w->target || !sl_db_is_name(w->target))
        return sl_fail(&w->run->err, SL_E_USAGE, "database", "the database output needs a name such as "
                       "sqlite:out.db?table=t or postgres://user@host/db?table=t");
    w->type = w->target[0] == 's' ? &sl_sqlite_writer_type : &sl_pg_writer_type;
    return w->type->create(w);
}

static int db_never(sl_writer *w, const sl_batch *b)
{
    (void)b;
    return sl_fail(&w->run->err, SL_E_INTERNAL, "database", "writer used before create");
}

static int db_never_finish(sl_writer *w) { return db_never(w, NULL); }

const sl_writer_type sl_db_writer_type = {
    .name = "database",
    .create = db_create,
    .write = db_never,
    .finish = db_never_finish,
    .own_target = true,
};
