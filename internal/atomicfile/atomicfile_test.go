package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteReplacesWholeAndCleansLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	dest := filepath.Join(dir, "state.json")
	var steps []string
	require.NoError(t, Write(dest, []byte("one\n"), Options{Step: func(s string) { steps = append(steps, s) }}))
	require.Equal(t, []string{StepTempCreated, StepTempWritten, StepTempSynced, StepRenamed, StepDirSynced}, steps)
	// A leftover of a crashed write is removed by the next one.
	left := filepath.Join(dir, TempPrefix(dest)+"123")
	require.NoError(t, os.WriteFile(left, []byte("partial"), 0o600))
	require.NoError(t, Write(dest, []byte("two\n"), Options{}))
	b, err := os.ReadFile(dest)
	require.NoError(t, err)
	require.Equal(t, "two\n", string(b))
	_, err = os.Stat(left)
	require.True(t, os.IsNotExist(err))
	fi, err := os.Stat(dest)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestWriteFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "state.json")
	require.NoError(t, Write(dest, []byte("old"), Options{}))
	// A directory in the way of the rename: the old content is kept, no temp left.
	require.Error(t, Write(dir, []byte("x"), Options{}))
	b, _ := os.ReadFile(dest)
	require.Equal(t, "old", string(b))
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), TempPrefix(dir)+"*"))
	require.Empty(t, m)
}
