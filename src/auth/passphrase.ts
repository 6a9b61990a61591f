/**
 * The admin passphrase typed on the consent page, kept in memory only as a
 * scrypt hash (random salt); verification is constant-time.
 */
import { randomBytes, scrypt as scryptCb, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PARAMS: ScryptOptions = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(secret.normalize('NFC'), salt, KEYLEN, PARAMS, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export class PassphraseHash {
  private constructor(
    private readonly salt: Buffer,
    private readonly hash: Buffer,
  ) {}

  static async create(passphrase: string): Promise<PassphraseHash> {
    const salt = randomBytes(16);
    return new PassphraseHash(salt, await scrypt(passphrase, salt));
  }

  /** Synchronous variant for startup (about 0.1 s, once). */
  static createSync(passphrase: string): PassphraseHash {
    const salt = randomBytes(16);
    return new PassphraseHash(salt, scryptSync(passphrase.normalize('NFC'), salt, KEYLEN, PARAMS));
  }

  async verify(candidate: string): Promise<boolean> {
    // Bound the work an attacker can ask for; a real passphrase is far shorter.
    if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > 1024) return false;
    const got = await scrypt(candidate, this.salt);
    return timingSafeEqual(got, this.hash);
  }

  /** Never print anything of the hash. */
  toJSON(): string {
    return '[scrypt hash]';
  }
}
