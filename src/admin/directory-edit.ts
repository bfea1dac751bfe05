import type { Knex } from 'knex';
import { recordAudit, type Actor } from '../audit/audit.ts';
import type { Clock } from '../clock.ts';
import { exportDirectoryWith } from '../directory/export.ts';
import type { DirectoryFile } from '../directory/format.ts';
import { importDirectoryWith } from '../directory/import.ts';
import { FieldErrors, HttpError } from '../errors.ts';

export type EditableFile = DirectoryFile & {
  users: NonNullable<DirectoryFile['users']>;
  groups: NonNullable<DirectoryFile['groups']>;
  catalogs: NonNullable<DirectoryFile['catalogs']>;
  assignments: NonNullable<DirectoryFile['assignments']>;
  accessReviews: NonNullable<DirectoryFile['accessReviews']>;
};

export interface Edit<T> {
  /** JSON path of the edited object in the file, like `catalogs[2].accessPackages[0].policies[1]`. */
  path: string;
  /**
   * The form field (and its label) a problem at `path` + suffix belongs to; undefined: the top of
   * the form. `words` says the import's message in the form's words, where it names the file's fields.
   */
  fieldFor: (suffix: string) => { field: string; label: string; words?: (message: string) => string } | undefined;
  /** `targetId` may be looked up once the import has written the object (a new object's id). */
  audit: { action: string; targetType: string; targetId: string | ((trx: Knex.Transaction) => Promise<string>); label: string };
  before: unknown;
  after: () => unknown;
  result: T;
}

/**
 * Every configuration change goes through the directory file: export the directory, change one
 * object, import the result, in one transaction that holds the directory row. So an editor refuses
 * exactly what an import of the same file would refuse, with the same message (in the form's words
 * where it names the file's fields), and a removal that history forbids is refused the same way.
 * Problems come back as field errors; nothing is written.
 */
export async function editDirectory<T>(
  db: Knex,
  clock: Clock,
  actor: Actor,
  directoryId: string,
  change: (file: EditableFile, trx: Knex.Transaction) => Promise<Edit<T>> | Edit<T>,
): Promise<T> {
  return db.transaction(async (trx) => {
    const dir = await trx('directories').where({ id: directoryId }).forUpdate().first('hint');
    const exported = (await exportDirectoryWith(trx, dir.hint)) as EditableFile;
    const file: EditableFile = { ...exported, users: exported.users ?? [], groups: exported.groups ?? [], catalogs: exported.catalogs ?? [], assignments: exported.assignments ?? [], accessReviews: exported.accessReviews ?? [] };
    const edit = await change(file, trx);
    const result = await importDirectoryWith(trx, file, { clock, actor, edit: true });
    if (!result.ok) {
      const errors = new FieldErrors();
      for (const p of result.problems) {
        const mine = p.path === edit.path || p.path.startsWith(`${edit.path}.`) || p.path.startsWith(`${edit.path}[`);
        const target = mine ? edit.fieldFor(p.path.slice(edit.path.length).replace(/^\./, '')) : undefined;
        // The import's own message, prefixed with the label of the field it is about.
        if (target) errors.add(target.field, `${target.label}: ${target.words ? target.words(p.message) : p.message}`);
        else errors.add(`form-${errors.toArray().length}`, mine ? p.message : `${p.path}: ${p.message}`, '#main');
      }
      errors.throwIfAny();
    }
    await recordAudit(trx, actor, {
      action: edit.audit.action,
      at: clock.now(),
      directoryId,
      targetType: edit.audit.targetType,
      targetId: typeof edit.audit.targetId === 'function' ? await edit.audit.targetId(trx) : edit.audit.targetId,
      details: { label: edit.audit.label, before: edit.before ?? null, after: edit.after() ?? null },
    });
    return edit.result;
  });
}

/** Finds an object in the file or answers 404 (it was removed meanwhile, or is not in this directory). */
export function located<T>(value: T | undefined | null | -1): T {
  if (value === undefined || value === null || value === -1) throw new HttpError(404, 'Not found', 'This object no longer exists. Reload the page.');
  return value as T;
}
