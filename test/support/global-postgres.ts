import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/connect.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { startThrowawayCluster, type ThrowawayCluster } from '../../src/db/throwaway-cluster.ts';

export const TEMPLATE_DB = 'portico_test_template';

/**
 * Starts a throwaway PostgreSQL cluster (or uses TEST_DATABASE_URL's server) and migrates a template
 * database; each test file gets its own copy with CREATE DATABASE ... TEMPLATE.
 */
export default async function setup(project: TestProject) {
  let cluster: ThrowawayCluster | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    cluster = await startThrowawayCluster();
    adminUrl = cluster.url('postgres');
  }
  const admin = await openDatabase({ kind: 'postgres', url: adminUrl, poolMax: 1 });
  await admin.db.raw(`drop database if exists ${TEMPLATE_DB}`);
  await admin.db.raw(`create database ${TEMPLATE_DB}`);
  const templateUrl = withDatabase(adminUrl, TEMPLATE_DB);
  const template = await openDatabase({ kind: 'postgres', url: templateUrl, poolMax: 1 });
  await migrateToLatest(template.db);
  await template.close();
  await admin.close();
  project.provide('testDatabase', { kind: 'postgres', adminUrl, template: TEMPLATE_DB });
  return async () => {
    await cluster?.stop();
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
