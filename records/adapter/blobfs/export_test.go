package blobfs

// WatchDirSyncs records the directories s syncs, in order; a failing sync
// fails with err.
func WatchDirSyncs(s *Store, err error) *[]string {
	var synced []string
	s.syncDir = func(dir string) error {
		synced = append(synced, dir)
		return err
	}
	return &synced
}

// CrashedPut leaves what a Put leaves when its process dies before the
// rename: a temporary file holding part of the object. key is unused: the
// file names none.
func CrashedPut(s *Store, _ string) error {
	f, err := s.createTemp()
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(magic + "part of an object")); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
