import passport, { type PassportStatic } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { actorOf } from '../web/actor.ts';
import type { AuthService } from './service.ts';

/** One passport instance per app (no module globals), with the local strategy and id-only sessions. */
export function createPassport(auth: AuthService): PassportStatic {
  const instance = new passport.Passport() as unknown as PassportStatic;
  instance.use(
    'local',
    new LocalStrategy({ usernameField: 'email', passwordField: 'password', passReqToCallback: true }, (req, email, password, done) => {
      const hint = typeof req.body?.directory === 'string' ? req.body.directory : undefined;
      auth
        .signInWithPassword(email.trim(), password, actorOf(req), hint)
        .then((result) => {
          if (result.kind === 'signedIn') return done(null, { id: result.userId } as Express.User);
          return done(null, false, { message: result.kind, ...result });
        }, done);
    }),
  );
  // Only the user id goes into the session; the person is loaded fresh on every request.
  instance.serializeUser((user, done) => done(null, user.id));
  instance.deserializeUser((id: string, done) => {
    auth.loadCurrentUser(id).then((user) => done(null, user ?? false), done);
  });
  return instance;
}
