import { experimental } from "@grpc/grpc-js";
import type { X509Certificate } from "node:crypto";
import {
  checkCaBundle,
  checkIdentity,
  readCaBundle,
  readIdentity,
  type SettingFile,
} from "./certificate-files.js";

type IdentityUpdate = experimental.IdentityCertificateUpdate;
type CaUpdate = experimental.CaCertificateUpdate;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaListener = experimental.CaCertificateUpdateListener;

export interface CheckedCertificateFiles {
  readonly cert?: SettingFile | undefined;
  readonly key?: SettingFile | undefined;
  readonly ca?: SettingFile | undefined;
  readonly refreshIntervalMs: number;
  /** A re-read that fails the checks (unreadable, key mismatch, expired); the last good files stay in use. */
  readonly onRejected: (error: Error) => void;
  /** The files changed and passed the checks; new connections use them from now on. */
  readonly onRotated?: (what: "certificate" | "ca", leaf: X509Certificate | undefined) => void;
}

/**
 * grpc-js's FileWatcherCertificateProvider (which re-reads the files on a timer) with checks in
 * front: the first read happens in the constructor so a missing file, a key that is not the
 * certificate's or an expired certificate fails at start with the setting named; a later
 * re-read that fails the same checks is reported and ignored, so a half-written renewal never
 * replaces a working certificate. Connections already open keep the certificate they began
 * with; grpc-js applies updates to new handshakes only.
 */
export class CheckedCertificateProvider implements experimental.CertificateProvider {
  private identity: IdentityUpdate | undefined;
  private ca: CaUpdate | undefined;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private readonly watcher: experimental.FileWatcherCertificateProvider;
  private watching = false;

  constructor(private readonly files: CheckedCertificateFiles) {
    if (files.cert !== undefined && files.key !== undefined) {
      const checked = readIdentity(files.cert, files.key);
      this.identity = { certificate: checked.certificate, privateKey: checked.privateKey };
    }
    if (files.ca !== undefined) this.ca = { caCertificate: readCaBundle(files.ca) };
    this.watcher = new experimental.FileWatcherCertificateProvider({
      certificateFile: this.identity === undefined ? undefined : files.cert?.path,
      privateKeyFile: this.identity === undefined ? undefined : files.key?.path,
      caCertificateFile: files.ca?.path,
      refreshIntervalMs: files.refreshIntervalMs,
    });
  }

  /** The certificate and key in use now (checked), if this provider has them. */
  currentIdentity(): IdentityUpdate | undefined {
    return this.identity;
  }

  /** The CA bundle in use now (checked), if this provider has one. */
  currentCa(): CaUpdate | undefined {
    return this.ca;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.changeWatching();
    const latest = this.ca;
    if (latest !== undefined) process.nextTick(listener, latest);
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.changeWatching();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.changeWatching();
    const latest = this.identity;
    if (latest !== undefined) process.nextTick(listener, latest);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.changeWatching();
  }

  /** Watches the files while anyone listens (the inner watcher's timer keeps a process alive). */
  private changeWatching(): void {
    const wanted = this.identityListeners.size + this.caListeners.size > 0;
    if (wanted === this.watching) return;
    this.watching = wanted;
    if (wanted) {
      if (this.identity !== undefined) this.watcher.addIdentityCertificateListener(this.onIdentityRead);
      if (this.ca !== undefined) this.watcher.addCaCertificateListener(this.onCaRead);
    } else {
      this.watcher.removeIdentityCertificateListener(this.onIdentityRead);
      this.watcher.removeCaCertificateListener(this.onCaRead);
    }
  }

  private readonly onIdentityRead = (update: IdentityUpdate | null): void => {
    const { cert, key } = this.files;
    if (cert === undefined || key === undefined) return;
    if (update === null) {
      this.files.onRejected(
        new Error(
          `${cert.setting}=${cert.path} or ${key.setting}=${key.path} cannot be read; keeping the certificate in use`,
        ),
      );
      return;
    }
    const current = this.identity;
    if (
      current?.certificate.equals(update.certificate) === true &&
      current.privateKey.equals(update.privateKey)
    )
      return;
    let leaf: X509Certificate;
    try {
      leaf = checkIdentity(update.certificate, update.privateKey, cert, key).leaf;
    } catch (error) {
      this.files.onRejected(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.identity = update;
    this.files.onRotated?.("certificate", leaf);
    for (const listener of this.identityListeners) listener(update);
  };

  private readonly onCaRead = (update: CaUpdate | null): void => {
    const { ca } = this.files;
    if (ca === undefined) return;
    if (update === null) {
      this.files.onRejected(new Error(`${ca.setting}=${ca.path} cannot be read; keeping the CA in use`));
      return;
    }
    if (this.ca?.caCertificate.equals(update.caCertificate) === true) return;
    try {
      checkCaBundle(update.caCertificate, ca);
    } catch (error) {
      this.files.onRejected(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.ca = update;
    this.files.onRotated?.("ca", undefined);
    for (const listener of this.caListeners) listener(update);
  };
}
