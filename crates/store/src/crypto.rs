//! Encryption of tokens at rest: AES-256-GCM under a keyring.
//!
//! The keyring holds one primary key, which seals everything new, and any number of previous
//! keys, which only open what they sealed. Every sealed value records the id of its key, so a
//! key can be rotated without downtime: add the new key, re-seal the rows
//! (`freshtoken admin rotate-key`), then retire the old one.
//!
//! A key's id is derived from the key itself (a truncated SHA-256), so the same key always has
//! the same id on every process, and an id reveals nothing usable about the key.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "{source_name} must be {KEY_LEN} bytes encoded as base64 (e.g. from `freshtoken admin generate-key`)"
    )]
    InvalidKey { source_name: String },
    #[error(
        "data was encrypted with key {0}, which is not configured: add that key to FRESHTOKEN_PREVIOUS_SECRET_KEYS (or the key file)"
    )]
    UnknownKey(String),
    #[error("a stored token could not be decrypted: the key is wrong or the row was altered")]
    Decrypt,
    #[error("key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A 256-bit secret key. Wiped from memory when dropped; never printed.
#[derive(Clone)]
pub struct SecretKey(Box<[u8; KEY_LEN]>);

impl SecretKey {
    pub fn generate() -> SecretKey {
        let mut bytes = Box::new([0u8; KEY_LEN]);
        getrandom::getrandom(bytes.as_mut_slice()).expect("the operating system has no randomness");
        SecretKey(bytes)
    }

    /// Parses a base64 key; `source_name` names where it came from in the error.
    pub fn from_base64(text: &str, source_name: &str) -> Result<SecretKey, CryptoError> {
        let invalid = || CryptoError::InvalidKey {
            source_name: source_name.to_owned(),
        };
        let decoded = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| invalid())?);
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| invalid())?;
        Ok(SecretKey(Box::new(bytes)))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_slice()))
    }

    /// A short public name for this key, stored beside everything it seals.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"freshtoken key id\0")
            .chain_update(self.0.as_slice())
            .finalize();
        digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(id {})", self.id())
    }
}

/// What sealing produced: store all three, and the associated data used, to open it again.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub key_id: String,
}

/// The keys this process knows: one primary, any number of previous ones.
#[derive(Debug, Clone)]
pub struct Keyring {
    primary_id: String,
    keys: HashMap<String, SecretKey>,
}

impl Keyring {
    pub fn new(primary: SecretKey, previous: impl IntoIterator<Item = SecretKey>) -> Keyring {
        let primary_id = primary.id();
        let mut keys: HashMap<String, SecretKey> =
            previous.into_iter().map(|key| (key.id(), key)).collect();
        keys.insert(primary_id.clone(), primary);
        Keyring { primary_id, keys }
    }

    pub fn primary_id(&self) -> &str {
        &self.primary_id
    }

    /// The ids of the keys that only decrypt, sorted.
    pub fn previous_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .keys
            .keys()
            .filter(|id| **id != self.primary_id)
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// This keyring without the previous keys that nothing in `still_used` needs.
    pub fn retire_unused(&self, still_used: &[String]) -> Keyring {
        let keys = self
            .keys
            .iter()
            .filter(|(id, _)| **id == self.primary_id || still_used.contains(id))
            .map(|(id, key)| (id.clone(), key.clone()))
            .collect();
        Keyring {
            primary_id: self.primary_id.clone(),
            keys,
        }
    }

    pub fn knows(&self, key_id: &str) -> bool {
        self.keys.contains_key(key_id)
    }

    /// Encrypts under the primary key. `associated_data` binds the ciphertext to its place
    /// (e.g. the account id), so a ciphertext copied into another row does not open there.
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Sealed {
        let key = &self.keys[&self.primary_id];
        let cipher = Aes256Gcm::new_from_slice(key.0.as_slice()).expect("key length is fixed");
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).expect("the operating system has no randomness");
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        Sealed {
            ciphertext,
            nonce: nonce.to_vec(),
            key_id: self.primary_id.clone(),
        }
    }

    pub fn open(
        &self,
        sealed: &Sealed,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; NONCE_LEN] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Decrypt)?;
        let cipher = Aes256Gcm::new_from_slice(key.0.as_slice()).expect("key length is fixed");
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: associated_data,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// A key file: one base64 key per line, the primary first, previous keys after it.
///
/// This is how the default SQLite setup keeps its key with nothing configured: created on first
/// start with mode 0600 inside the data directory, and reused after.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    pub fn new(path: impl Into<PathBuf>) -> KeyFile {
        KeyFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the keyring, creating the file with a fresh key if there is none yet.
    pub fn load_or_create(&self) -> Result<Keyring, CryptoError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => self.parse(&Zeroizing::new(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let keyring = Keyring::new(SecretKey::generate(), []);
                self.write(&keyring)?;
                tracing::info!(path = %self.path.display(), key_id = keyring.primary_id(), "generated a new secret key");
                Ok(keyring)
            }
            Err(source) => Err(self.io_error(source)),
        }
    }

    pub fn load(&self) -> Result<Keyring, CryptoError> {
        let text = std::fs::read_to_string(&self.path).map_err(|source| self.io_error(source))?;
        self.parse(&Zeroizing::new(text))
    }

    fn parse(&self, text: &str) -> Result<Keyring, CryptoError> {
        let name = self.path.display().to_string();
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| SecretKey::from_base64(line, &name));
        let primary = keys.next().unwrap_or(Err(CryptoError::InvalidKey {
            source_name: name.clone(),
        }))?;
        let previous = keys.collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring::new(primary, previous))
    }

    /// Writes the keyring atomically (a temporary file renamed over the old one), mode 0600.
    pub fn write(&self, keyring: &Keyring) -> Result<(), CryptoError> {
        let mut text = Zeroizing::new(String::from(
            "# freshtoken secret keys: the first line encrypts, the others only decrypt.\n# Back this file up with the database: without it the stored tokens are lost.\n",
        ));
        let primary = &keyring.keys[&keyring.primary_id];
        text.push_str(&primary.to_base64());
        text.push('\n');
        for (id, key) in &keyring.keys {
            if *id != keyring.primary_id {
                text.push_str(&key.to_base64());
                text.push('\n');
            }
        }
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| self.io_error(source))?;
        }
        let temporary = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&temporary)
            .map_err(|source| self.io_error(source))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| self.io_error(source))?;
        std::fs::rename(&temporary, &self.path).map_err(|source| self.io_error(source))
    }

    fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|meta| meta.modified())
            .ok()
    }

    /// The keyring with `key` as the new primary and every key of `current` kept to decrypt.
    pub fn rotated(current: &Keyring, key: SecretKey) -> Keyring {
        Keyring::new(key, current.keys.values().cloned())
    }

    fn io_error(&self, source: std::io::Error) -> CryptoError {
        CryptoError::KeyFile {
            path: self.path.clone(),
            source,
        }
    }
}

/// Where the running process gets its keys, and how it learns of new ones.
///
/// With a key file, the process follows the file while it runs: before sealing it checks
/// whether the file changed (a `stat`, and sealing is rare: connects and refreshes), and on
/// meeting an unknown key id it re-reads the file once. So after `freshtoken admin rotate-key`
/// has written a new key and re-sealed the rows, a running server reads and writes under the
/// new key without a restart.
#[derive(Debug)]
pub struct KeyStore {
    keyring: RwLock<Arc<Keyring>>,
    file: Option<(KeyFile, Mutex<Option<SystemTime>>)>,
}

impl KeyStore {
    pub fn fixed(keyring: Keyring) -> KeyStore {
        KeyStore {
            keyring: RwLock::new(Arc::new(keyring)),
            file: None,
        }
    }

    /// Follows a key file, creating it with a fresh key if it does not exist yet.
    pub fn from_file(file: KeyFile) -> Result<KeyStore, CryptoError> {
        let keyring = file.load_or_create()?;
        let modified = file.modified();
        Ok(KeyStore {
            keyring: RwLock::new(Arc::new(keyring)),
            file: Some((file, Mutex::new(modified))),
        })
    }

    pub fn current(&self) -> Arc<Keyring> {
        self.keyring
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn key_file(&self) -> Option<&KeyFile> {
        self.file.as_ref().map(|(file, _)| file)
    }

    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Sealed {
        if let Some((file, seen)) = &self.file {
            let modified = file.modified();
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            if modified != *seen {
                match self.reload(file) {
                    Ok(_) => *seen = modified,
                    Err(err) => {
                        tracing::warn!(error = %err, "key file changed but could not be read; sealing with the keys already loaded")
                    }
                }
            }
        }
        self.current().seal(plaintext, associated_data)
    }

    pub fn open(
        &self,
        sealed: &Sealed,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let keyring = self.current();
        if !keyring.knows(&sealed.key_id)
            && let Some((file, _)) = &self.file
        {
            return self.reload(file)?.open(sealed, associated_data);
        }
        keyring.open(sealed, associated_data)
    }

    fn reload(&self, file: &KeyFile) -> Result<Arc<Keyring>, CryptoError> {
        let reloaded = Arc::new(file.load()?);
        *self.keyring.write().unwrap_or_else(PoisonError::into_inner) = reloaded.clone();
        Ok(reloaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_and_place_only() {
        let keyring = Keyring::new(SecretKey::generate(), []);
        let sealed = keyring.seal(b"IGAAtoken", b"account:1");
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"IGAAtoken"));
        assert_eq!(
            keyring.open(&sealed, b"account:1").unwrap().as_slice(),
            b"IGAAtoken"
        );
        assert!(matches!(
            keyring.open(&sealed, b"account:2"),
            Err(CryptoError::Decrypt)
        ));

        let other = Keyring::new(SecretKey::generate(), []);
        assert!(matches!(
            other.open(&sealed, b"account:1"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn previous_keys_open_but_never_seal() {
        let old = SecretKey::generate();
        let sealed_with_old = Keyring::new(old.clone(), []).seal(b"t", b"a");
        let new = SecretKey::generate();
        let rotated = Keyring::new(new.clone(), [old]);
        assert_eq!(
            rotated.open(&sealed_with_old, b"a").unwrap().as_slice(),
            b"t"
        );
        assert_eq!(rotated.seal(b"t", b"a").key_id, new.id());
    }

    #[test]
    fn keys_parse_from_base64_and_name_their_source_when_invalid() {
        let key = SecretKey::generate();
        let parsed = SecretKey::from_base64(&key.to_base64(), "X").unwrap();
        assert_eq!(parsed.id(), key.id());
        let err = SecretKey::from_base64("c2hvcnQ=", "FRESHTOKEN_SECRET_KEY").unwrap_err();
        assert!(err.to_string().contains("FRESHTOKEN_SECRET_KEY"), "{err}");
        assert!(!format!("{key:?}").contains(key.to_base64().as_str()));
    }

    #[test]
    fn key_files_are_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("secret.key"));
        let first = file.load_or_create().unwrap();
        let second = file.load_or_create().unwrap();
        assert_eq!(first.primary_id(), second.primary_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_key_store_learns_keys_added_to_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("secret.key"));
        let store = KeyStore::from_file(file.clone()).unwrap();
        let old = file.load().unwrap();
        let rotated = KeyFile::rotated(&old, SecretKey::generate());
        file.write(&rotated).unwrap();
        let sealed = rotated.seal(b"t", b"a");
        assert_eq!(store.open(&sealed, b"a").unwrap().as_slice(), b"t");
        assert_eq!(store.current().primary_id(), rotated.primary_id());
    }

    #[test]
    fn a_key_store_seals_with_the_new_primary_once_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeyFile::new(dir.path().join("secret.key"));
        let store = KeyStore::from_file(file.clone()).unwrap();
        let old_id = store.current().primary_id().to_owned();
        // Make sure the modification time moves even on coarse-grained file systems.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let rotated = KeyFile::rotated(&file.load().unwrap(), SecretKey::generate());
        file.write(&rotated).unwrap();
        let sealed = store.seal(b"t", b"a");
        assert_eq!(sealed.key_id, rotated.primary_id());
        assert_ne!(sealed.key_id, old_id);
    }
}
